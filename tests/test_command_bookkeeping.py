"""What a command leaves behind besides its reply, against redis-server 7.0: CLIENT LIST/INFO `cmd=`
(set when the command is looked up, before any check — so refused and failed commands show, and
CLIENT LIST shows itself), and a failed command's commandstats usec, latency sample and slowlog entry.
Each runs on respdb with its C loop and with the Python one (RESPDB_NO_EXTENSIONS=1)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from tests.servers import ServerProcess, respdb_server


@pytest.fixture(scope="module", params=["c-loop", "python-loop"])
def respdb(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    if request.param == "python-loop":
        os.environ["RESPDB_NO_EXTENSIONS"] = "1"
    try:
        with respdb_server() as sp:
            os.environ.pop("RESPDB_NO_EXTENSIONS", None)
            yield sp
    finally:
        os.environ.pop("RESPDB_NO_EXTENSIONS", None)


# Each sequence runs on a fresh connection; a second connection then reads its cmd= from CLIENT LIST.
SEQUENCES = [
    [("GET", "k")], [("GET",)], [("NOSUCH",)], [("CLIENT", "NOSUB")], [("CLIENT",)],
    [("SET", "k", "v"), ("LPUSH", "k", "a")],  # a failed command (WRONGTYPE) shows
    [("MULTI",), ("GET", "k")], [("MULTI",), ("GET", "k"), ("EXEC",)], [("MULTI",), ("EXEC",)],
    [("BLPOP", "nolist", "0.01")], [("CONFIG", "GET", "maxmemory")],
    [("EVAL", "return redis.call('get', 'k')", "0")], [("SET", "k", "v"), ("PING",), ("GET", "k")],
]


def _cmds_seen(sp: ServerProcess) -> list[tuple[bytes, bytes]]:
    seen = []
    for seq in SEQUENCES:
        r, watcher = sp.client(), sp.client()
        r.execute_command("DEL", "k")
        cid = r.client_id()
        for cmd in seq:
            try:
                r.execute_command(*cmd)
            except Exception:
                pass
        listed = watcher.execute_command("CLIENT", "LIST", "ID", str(cid))
        own = r.execute_command("CLIENT", "INFO")  # shows itself (client|info), or is QUEUED in MULTI
        shown = re.search(rb"cmd=(\S+)", own)
        seen.append((re.search(rb"cmd=(\S+)", listed).group(1), shown.group(1) if shown else own))  # type: ignore[union-attr]
        r.close()
        watcher.close()
    return seen


def test_client_list_cmd_is_the_command_looked_up_as_in_redis(respdb: ServerProcess, oracle: ServerProcess) -> None:
    assert _cmds_seen(respdb) == _cmds_seen(oracle)


_PROBED = ("cmdstat_lpush", "cmdstat_incrby", "cmdstat_get")


def _failed_stats(sp: ServerProcess) -> tuple[object, ...]:
    r = sp.client()
    r.config_set("slowlog-log-slower-than", "0")
    r.config_set("latency-tracking", "yes")
    r.set("s", "x")
    r.execute_command("CONFIG", "RESETSTAT")
    r.slowlog_reset()
    pipe = r.pipeline(transaction=False)
    pipe.lpush("s", "a").incr("s").get("s").lpush("s", "b")
    pipe.execute(raise_on_error=False)
    histogram = r.execute_command("LATENCY", "HISTOGRAM", "lpush", "incrby", "get")
    stats = r.info("commandstats")
    slowlog = [entry["command"] for entry in r.slowlog_get(10)]
    r.config_set("slowlog-log-slower-than", "10000")
    r.close()
    return (
        {name: entry[b"calls"] for name, entry in histogram.items()},
        # (a GET's usec rounds to 0 or 1 either way; the failed calls' durations must be there)
        {name: (s["calls"], s["failed_calls"], s["usec"] > 0 or name == "cmdstat_get") for name, s in stats.items() if name in _PROBED},
        slowlog[slowlog.index(b"LPUSH s b"):],
    )


def test_failed_command_counts_in_latency_usec_and_slowlog_as_in_redis(respdb: ServerProcess, oracle: ServerProcess) -> None:
    """Redis's call() records a command's duration whether or not it replied with an error."""
    ours, theirs = _failed_stats(respdb), _failed_stats(oracle)
    assert ours == theirs
    assert ours[0] == {b"lpush": 2, b"incrby": 1, b"get": 1}
