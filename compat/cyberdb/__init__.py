"""CyberDB 0.9.3-compatible API on redis-py (import name `cyberdb`)."""
