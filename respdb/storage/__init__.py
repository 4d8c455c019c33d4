"""In-memory data: databases of keys with expiry, and value types that need more than a builtin."""
