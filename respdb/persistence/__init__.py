"""Persistence: the .cdb snapshot format, the append-only log, encryption at rest, save rules and
the forked background child (docs/persistence.md is the format specification)."""
