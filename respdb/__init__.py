"""respdb: a Redis-protocol (RESP2/RESP3) in-memory data store written in Python."""

__version__ = "0.1.0"
# The Redis release whose behaviour respdb reproduces; reported where clients read a Redis version.
REDIS_VERSION = "7.0.15"


def embedded(**config: object) -> "EmbeddedServer":  # noqa: F821 - imported lazily below
    """A respdb server in this process on a background thread; see respdb.embedding."""
    from respdb.embedding import embedded as _embedded

    return _embedded(**config)
