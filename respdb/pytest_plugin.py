"""pytest plugin (registered through the `pytest11` entry point, so installing respdb is enough).

Fixtures:
- `respdb_server`: one embedded respdb per test session (per worker under pytest-xdist);
- `respdb_url`: its redis:// URL;
- `respdb`: a redis-py client whose server is flushed before each test.
Options: `--respdb-port N` (a fixed port; xdist workers use N + worker index) and
`--respdb-config KEY=VALUE` (repeatable; any respdb-server parameter, e.g. requirepass=s3cret).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("respdb", "respdb server for tests")
    group.addoption("--respdb-port", type=int, default=0, help="port for the respdb test server (0: a free one)")
    group.addoption(
        "--respdb-config", action="append", default=[], metavar="KEY=VALUE",
        help="a respdb-server parameter for the test server (repeatable)",
    )


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


@pytest.fixture(scope="session")
def respdb_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    from respdb.embedding import embedded

    config: dict[str, Any] = {}
    for item in request.config.getoption("--respdb-config"):
        key, sep, value = item.partition("=")
        if not sep:
            raise pytest.UsageError(f"--respdb-config expects KEY=VALUE, got {item!r}")
        config[key.strip().replace("-", "_")] = value
    port = request.config.getoption("--respdb-port")
    config["port"] = port + _worker_index() if port else 0
    with embedded(**config) as server:
        yield server


@pytest.fixture(scope="session")
def respdb_url(respdb_server: Any) -> str:
    return respdb_server.url


@pytest.fixture
def respdb(respdb_server: Any) -> Iterator[Any]:
    client = respdb_server.client()
    client.flushall()
    yield client
    client.close()
