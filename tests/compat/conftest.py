"""Fixtures for the cyberdb compat suite: the same tests run against respdb, redis-server and a 3-node
Redis Cluster (all started here, all real servers)."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cyberdb
import pytest
import redis
import redis.cluster

from tests.servers import REDIS_CLI, REDIS_SERVER, ServerProcess, redis_oracle, respdb_server, wait_ready

BACKENDS = ["respdb", "redis", "cluster"]


def cluster_port() -> int:
    """A free port whose cluster-bus port (port + 10000) is free and valid too."""
    while True:
        port = random.randint(20000, 50000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port


class RedisCluster:
    """Three redis-server primaries joined with `redis-cli --cluster create`."""

    def __init__(self, ports: list[int], procs: list[subprocess.Popen], workdir: Path) -> None:
        self.ports = ports
        self.procs = procs
        self.dir = workdir


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    if REDIS_SERVER is None or REDIS_CLI is None:
        pytest.skip("redis-server/redis-cli not installed")
    wd = Path(tempfile.mkdtemp(prefix="cyberdb-cluster-"))
    ports, procs = [], []
    try:
        for _ in range(3):
            port = cluster_port()
            node = wd / str(port)
            node.mkdir()
            proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no", "--dir", str(node)],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            ports.append(port)
            procs.append(proc)
            wait_ready(port, proc)
        subprocess.run([REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            info = redis.Redis(port=ports[0]).execute_command("CLUSTER", "INFO").decode()
            if "cluster_state:ok" in info:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("cluster did not reach state ok")
        yield RedisCluster(ports, procs, wd)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
        shutil.rmtree(wd, ignore_errors=True)


@pytest.fixture(scope="session")
def compat_respdb() -> Iterator[ServerProcess]:
    with respdb_server() as sp:
        yield sp


@pytest.fixture(scope="session")
def compat_redis() -> Iterator[ServerProcess]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    with redis_oracle() as sp:
        yield sp


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest) -> Iterator[cyberdb.Client]:
    """A cyberdb Client on an emptied backend."""
    if request.param == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        c = cyberdb.connect(port=cluster.ports[0], cluster=True)
        c.redis.flushall(target_nodes=redis.cluster.RedisCluster.PRIMARIES)
    else:
        sp = request.getfixturevalue("compat_respdb" if request.param == "respdb" else "compat_redis")
        c = cyberdb.connect(port=sp.port)
        c.redis.flushall()
    yield c
    c.close()


@pytest.fixture
def proxy(client: cyberdb.Client) -> Iterator[cyberdb.Proxy]:
    with client.get_proxy() as p:
        yield p
