"""Shared fixtures: one respdb per test session (flushed between tests), redis-py clients, the oracle."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.servers import REDIS_SERVER, ServerProcess, redis_oracle, respdb_server


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    # DEBUG is off by default, as in Redis; tests use DEBUG SLEEP to make slow commands.
    with respdb_server("--enable-debug-command", "yes") as sp:
        yield sp


@pytest.fixture
def r(server: ServerProcess) -> Iterator[redis.Redis]:
    """RESP2 client on a flushed server."""
    client = server.client(protocol=2)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def r3(server: ServerProcess) -> Iterator[redis.Redis]:
    """RESP3 client on a flushed server."""
    client = server.client(protocol=3)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="session")
def oracle() -> Iterator[ServerProcess]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    with redis_oracle() as sp:
        yield sp


@pytest.fixture
def pair(server: ServerProcess, oracle: ServerProcess) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """(respdb client, redis-server client), both flushed: send the same commands, compare replies."""
    ours = server.client(protocol=2)
    theirs = oracle.client(protocol=2)
    ours.flushall()
    theirs.flushall()
    yield ours, theirs
    ours.close()
    theirs.close()
