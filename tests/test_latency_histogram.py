"""Per-command latency tracking: LATENCY HISTOGRAM, INFO latencystats, the latency-tracking knobs,
and INFO stats keyspace_hits/keyspace_misses — shapes, texts and errors compared with redis-server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.diff import Differ
from tests.servers import REDIS_SERVER, Raw, ServerProcess, redis_oracle, resp, respdb_server

# The µs labels Redis prints for its power-of-two levels (1024 ns .. 2**29 ns): hdr's highest value
# of the bucket at each level, over 1000.
REDIS_LEVELS = [1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816, 67633, 135266, 270532, 541065]


def parse(data: bytes) -> Any:
    """RESP2/RESP3 reply → ("type char", value) tree, enough to compare reply shapes."""
    value, pos = _parse(data, 0)
    assert pos == len(data), data
    return value


def _parse(data: bytes, pos: int) -> tuple[Any, int]:
    end = data.index(b"\r\n", pos)
    kind, head = data[pos : pos + 1], data[pos + 1 : end]
    pos = end + 2
    if kind in (b"+", b"-"):
        return (kind, head), pos
    if kind == b":":
        return (kind, int(head)), pos
    if kind in (b"$", b"="):
        n = int(head)
        return (kind, data[pos : pos + n]), pos + n + 2
    if kind in (b"*", b"%", b"~"):
        n = int(head) * (2 if kind == b"%" else 1)
        items = []
        for _ in range(n):
            item, pos = _parse(data, pos)
            items.append(item)
        return (kind, items), pos
    raise AssertionError(f"unexpected reply type {kind!r}")


def histogram(tree: Any) -> dict[bytes, tuple[int, list[tuple[int, int]]]]:
    """A parsed LATENCY HISTOGRAM reply as {name: (calls, [(usec, cumulative), ...])}."""
    _kind, items = tree
    out = {}
    for i in range(0, len(items), 2):
        name = items[i][1]
        fields = items[i + 1][1]
        assert [f[1] for f in fields[0::2]] == [b"calls", b"histogram_usec"]
        levels = fields[3][1]
        out[name] = (fields[1][1], [(levels[j][1], levels[j + 1][1]) for j in range(0, len(levels), 2)])
    return out


def shape(tree: Any) -> Any:
    """The reply's types and names with the numbers and the histogram's length left out."""
    kind, value = tree
    if kind == b":":
        return kind
    if isinstance(value, list):
        if kind in (b"*", b"%") and value and value[0][0] == b":":  # histogram_usec: usec, count pairs
            return kind, "levels", len(value) % 2
        return kind, [shape(v) for v in value]
    return kind, value


@pytest.fixture
def raw(server: ServerProcess) -> Iterator[Raw]:
    conn = Raw(server.port)
    conn.request(resp("FLUSHALL"))
    conn.request(resp("CONFIG", "RESETSTAT"))
    yield conn
    conn.request(resp("CONFIG", "SET", "latency-tracking", "yes", "latency-tracking-info-percentiles", "50 99 99.9"))
    conn.close()


@pytest.fixture
def both(server: ServerProcess, oracle: ServerProcess) -> Iterator[Differ]:
    """Connections to respdb and redis-server, flushed and with their statistics reset."""
    d = Differ(server, oracle)
    d.both("CONFIG", "RESETSTAT")
    yield d
    d.both("CONFIG", "SET", "latency-tracking", "yes", "latency-tracking-info-percentiles", "50 99 99.9", compare=False)
    d.close()


def run_both(d: Differ, *args: str) -> tuple[bytes, bytes]:
    return d.both(*args, compare=False)


def test_latency_histogram_counts_every_call(raw):
    for i in range(25):
        raw.request(resp("SET", f"k{i}", "v"))
    hist = histogram(parse(raw.request(resp("LATENCY", "HISTOGRAM", "set"))))
    calls, levels = hist[b"set"]
    assert calls == 25
    assert levels and levels[-1][1] == 25
    usecs = [u for u, _ in levels]
    counts = [c for _, c in levels]
    assert usecs == sorted(set(usecs)) and set(usecs) <= set(REDIS_LEVELS)
    assert counts == sorted(set(counts))  # a level is listed only when the cumulative count grew


def test_latency_histogram_subcommands_are_named_like_redis(raw):
    raw.request(resp("CLIENT", "ID"))
    raw.request(resp("CONFIG", "GET", "port"))
    hist = histogram(parse(raw.request(resp("LATENCY", "HISTOGRAM", "client", "CONFIG|get"))))
    assert list(hist) == [b"client|id", b"config|get"]
    assert hist[b"client|id"][0] == 1


def test_latency_histogram_reply_shape_matches_redis_resp2(both):
    run_both(both, "SET", "a", "1")
    run_both(both, "GET", "a")
    ours, theirs = run_both(both, "LATENCY", "HISTOGRAM", "set", "nosuch", "get", "set", "client|id|x", "get|x")
    assert shape(parse(ours)) == shape(parse(theirs))
    assert [item[1] for item in parse(ours)[1][0::2]] == [b"set", b"get", b"set"]


def test_latency_histogram_reply_shape_matches_redis_resp3(both):
    run_both(both, "HELLO", "3")
    run_both(both, "SET", "a", "1")
    run_both(both, "CLIENT", "ID")
    ours, theirs = run_both(both, "LATENCY", "HISTOGRAM", "set", "client")
    assert ours.startswith(b"%2\r\n$3\r\nset\r\n%2\r\n$5\r\ncalls\r\n:1\r\n$14\r\nhistogram_usec\r\n%1\r\n")
    assert shape(parse(ours)) == shape(parse(theirs))


@pytest.fixture(scope="module")
def debug_oracle() -> Iterator[ServerProcess]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    with redis_oracle("--enable-debug-command", "yes") as sp:
        yield sp


def test_latency_histogram_slow_calls_end_the_histogram_as_redis(server, debug_oracle):
    """Calls over 2**29 ns land on Redis's last level (1073741 µs); percentiles of calls of a second
    or more read as Redis's clamped 1 s bucket."""
    d = Differ(server, debug_oracle)
    d.both("CONFIG", "RESETSTAT")
    d.both("DEBUG", "SLEEP", "0.6")
    d.both("DEBUG", "SLEEP", "1.1")
    assert d.check("LATENCY", "HISTOGRAM", "debug").endswith(b"histogram_usec\r\n*2\r\n:1073741\r\n:2\r\n")
    ours, theirs = (_latency_lines(x)["latency_percentiles_usec_debug"] for x in d.both("INFO", "latencystats", compare=False))
    assert ours.split(",")[1:] == theirs.split(",")[1:] == ["p99=1002438.655", "p99.9=1002438.655"]
    d.close()


def test_latency_histogram_unknown_and_empty_match_redis(both):
    d = both
    d.check("LATENCY", "HISTOGRAM", "nosuch")
    d.check("LATENCY", "HISTOGRAM", "set")  # known, but no calls since the reset
    d.check("LATENCY", "HISTOGRAM", "client|nosuch", "a|b|c")


def test_latency_histogram_without_names_lists_commands_with_calls(raw):
    raw.request(resp("SET", "a", "1"))
    raw.request(resp("ECHO", "x"))
    names = set(histogram(parse(raw.request(resp("LATENCY", "HISTOGRAM")))))
    # CONFIG RESETSTAT itself ran after the reset; commands never called are left out.
    assert {b"set", b"echo"} <= names
    assert b"get" not in names


def test_latency_histogram_config_resetstat_clears(raw):
    raw.request(resp("SET", "a", "1"))
    assert histogram(parse(raw.request(resp("LATENCY", "HISTOGRAM", "set"))))[b"set"][0] == 1
    raw.request(resp("CONFIG", "RESETSTAT"))
    assert raw.request(resp("LATENCY", "HISTOGRAM", "set")) == b"*0\r\n"
    assert b"latency_percentiles_usec_set:" not in raw.request(resp("INFO", "latencystats"))


def test_latency_histogram_not_recorded_while_tracking_off(raw):
    raw.request(resp("SET", "a", "1"))
    raw.request(resp("CONFIG", "SET", "latency-tracking", "no"))
    raw.request(resp("SET", "a", "2"))
    # The histogram recorded before is kept and still answered, as in Redis; INFO shows none.
    assert histogram(parse(raw.request(resp("LATENCY", "HISTOGRAM", "set"))))[b"set"][0] == 1
    assert raw.request(resp("INFO", "latencystats")) == b"$16\r\n# Latencystats\r\n\r\n"


def _latency_lines(info: bytes) -> dict[str, str]:
    text = info.split(b"\r\n", 1)[1].decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if line.startswith("latency_percentiles_usec_"))


def test_info_latencystats_format_matches_redis(both):
    run_both(both, "SET", "a", "1")
    run_both(both, "CLIENT", "ID")
    ours, theirs = (_latency_lines(x) for x in run_both(both, "INFO", "latencystats"))
    assert set(ours) == set(theirs) == {"latency_percentiles_usec_set", "latency_percentiles_usec_client|id", "latency_percentiles_usec_config|resetstat"}
    line = re.compile(r"p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}")
    for value in [*ours.values(), *theirs.values()]:
        assert line.fullmatch(value), value


def test_info_latencystats_custom_percentiles_named_like_redis(both):
    run_both(both, "CONFIG", "SET", "latency-tracking-info-percentiles", "99.999999 33.3333333 0 100")
    run_both(both, "SET", "a", "1")
    ours, theirs = (_latency_lines(x) for x in run_both(both, "INFO", "latencystats"))
    names = re.compile(r"p99\.999999=[\d.]+,p33\.333333=[\d.]+,p0=[\d.]+,p100=[\d.]+")
    assert names.fullmatch(ours["latency_percentiles_usec_set"])
    assert names.fullmatch(theirs["latency_percentiles_usec_set"])
    # One call: every percentile is that call's bucket (p0 its low end, the others its high end).
    values = [float(v.split("=")[1]) for v in ours["latency_percentiles_usec_set"].split(",")]
    assert values[0] == values[1] == values[3] >= values[2] > 0


def test_info_latencystats_no_percentiles(both):
    run_both(both, "CONFIG", "SET", "latency-tracking-info-percentiles", "")
    run_both(both, "SET", "a", "1")
    ours, theirs = (_latency_lines(x) for x in run_both(both, "INFO", "latencystats"))
    assert ours["latency_percentiles_usec_set"] == theirs["latency_percentiles_usec_set"] == ""


@pytest.mark.parametrize(
    "value",
    ["50 99 99.9", "50.0 99.990 0", "", "1e1 0x10", "99.999999 33.3333333", "100", "101", "-1", "abc", "50  99", " 50", "nan", "inf", "1_0", "50 x"],
)
def test_config_latency_tracking_info_percentiles_matches_redis(both, value):
    d = both
    d.check("CONFIG", "SET", "latency-tracking-info-percentiles", value)
    d.check("CONFIG", "GET", "latency-tracking-info-percentiles")


def test_config_latency_tracking_matches_redis(both):
    d = both
    # A pattern's matches come in redis-server's dict order, which varies: compare them as pairs.
    ours, theirs = (parse(x)[1] for x in d.both("CONFIG", "GET", "latency-tracking*", compare=False))
    pairs = [sorted(zip(reply[0::2], reply[1::2], strict=True)) for reply in (ours, theirs)]
    assert pairs[0] == pairs[1] and len(pairs[0]) == 2
    d.check("CONFIG", "SET", "latency-tracking", "maybe")
    d.check("CONFIG", "SET", "latency-tracking", "no")
    d.check("CONFIG", "GET", "latency-tracking")
    d.check("CONFIG", "GET", "loading-process-events-interval-bytes")
    d.check("CONFIG", "SET", "loading-process-events-interval-bytes", "10")
    d.check("CONFIG", "SET", "loading-process-events-interval-bytes", "4096")
    d.check("CONFIG", "GET", "loading-process-events-interval-bytes")
    d.check("CONFIG", "SET", "loading-process-events-interval-bytes", "2097152")


def test_config_latency_percentiles_from_command_line_file_and_rewrite(tmp_path):
    conf = tmp_path / "respdb.conf"
    conf.write_text("# my settings\nlatency-tracking-info-percentiles 90 99.5\n")
    with respdb_server(str(conf), "--latency-tracking", "no", workdir=tmp_path) as sp:
        c = sp.client()
        assert c.config_get("latency-tracking*") == {"latency-tracking": "no", "latency-tracking-info-percentiles": "90 99.5"}
        c.config_set("latency-tracking-info-percentiles", "75 25")
        c.config_rewrite()
    text = conf.read_text()
    assert "# my settings\n" in text and "latency-tracking-info-percentiles 75 25\n" in text
    assert "latency-tracking no\n" in text


def test_latency_help_matches_redis(both):
    both.check("LATENCY", "HELP")


# --- INFO stats keyspace_hits / keyspace_misses -------------------------------------------------
def _stats(conn: Raw) -> list[tuple[str, str]]:
    body = conn.request(resp("INFO", "stats")).split(b"\r\n", 1)[1].decode()
    return [tuple(line.split(":", 1)) for line in body.split("\r\n") if ":" in line]  # type: ignore[misc]


def test_info_stats_keyspace_hits_and_misses(both):
    for args in [("SET", "a", "1"), ("GET", "a"), ("GET", "a"), ("GET", "nosuch"), ("EXISTS", "a"), ("HGET", "nosuch", "f")]:
        run_both(both, *args)
    ours, theirs = (dict(_stats(c)) for c in (both.ours, both.theirs))
    assert (ours["keyspace_hits"], ours["keyspace_misses"]) == (theirs["keyspace_hits"], theirs["keyspace_misses"])
    assert (ours["keyspace_hits"], ours["keyspace_misses"]) == ("3", "2")


def test_info_stats_keyspace_hits_placed_as_redis(both):
    around = ["total_commands_processed", "expired_keys", "evicted_keys", "keyspace_hits", "keyspace_misses", "total_error_replies"]
    ours, theirs = ([k for k, _ in _stats(c) if k in around] for c in (both.ours, both.theirs))
    assert ours == theirs == around


def test_info_sections_end_like_redis(both):
    both.check("INFO", "nosuch")
    both.check("INFO", "cluster")
    both.check("INFO", "cluster", "keyspace")  # both flushed: an empty keyspace section last


def test_info_stats_keyspace_hits_zeroed_by_config_resetstat(raw):
    raw.request(resp("SET", "a", "1"))
    raw.request(resp("GET", "a"))
    raw.request(resp("GET", "b"))
    raw.request(resp("CONFIG", "RESETSTAT"))
    stats = dict(_stats(raw))
    assert (stats["keyspace_hits"], stats["keyspace_misses"]) == ("0", "0")


# --- the usual clients ---------------------------------------------------------------------------
def test_info_latencystats_through_redis_py(r):
    r.config_resetstat()
    r.set("a", "1")
    stats = r.info("latencystats")
    assert set(stats["latency_percentiles_usec_set"]) == {"p50", "p99", "p99.9"}
    assert all(isinstance(v, float) and v > 0 for v in stats["latency_percentiles_usec_set"].values())


def test_latency_histogram_through_redis_cli(server, oracle):
    import shutil
    import subprocess

    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.skip("redis-cli is not installed")
    outputs = []
    for port in (server.port, oracle.port):
        subprocess.run([cli, "-p", str(port), "CONFIG", "RESETSTAT"], check=True, capture_output=True)
        subprocess.run([cli, "-p", str(port), "SET", "a", "1"], check=True, capture_output=True)
        done = subprocess.run([cli, "-p", str(port), "LATENCY", "HISTOGRAM", "set"], check=True, capture_output=True, text=True)
        outputs.append(done.stdout.splitlines())
    ours, theirs = outputs
    # One call: the name, calls 1, and one level holding it; the level's µs label may differ.
    assert ours[:4] == theirs[:4] == ["set", "calls", "1", "histogram_usec"]
    assert len(ours) == len(theirs) == 6 and ours[5] == theirs[5] == "1"
    assert int(ours[4]) in REDIS_LEVELS


# --- LATENCY GRAPH --------------------------------------------------------------------------------
def test_latency_graph_one_sample_matches_redis(server, debug_oracle):
    d = Differ(server, debug_oracle)
    d.check("LATENCY", "GRAPH", "nosuch")
    d.check("LATENCY", "GRAPH")
    d.both("LATENCY", "RESET")
    # A threshold far above what an ordinary command takes on a loaded machine: only the sleep counts.
    d.both("CONFIG", "SET", "latency-monitor-threshold", "100")
    try:
        d.both("DEBUG", "SLEEP", "0.15")
        ours, theirs = d.both("LATENCY", "GRAPH", "command", compare=False)
        # The header carries the measured milliseconds (one apart at times) and the label under the
        # sample its age in seconds (0 or 1, as the clock ticks between the two requests); the drawing
        # is the same.
        numbers = re.compile(rb"\d+ ms|\n\d+\ns\n")
        assert numbers.sub(b"N", ours) == numbers.sub(b"N", theirs)
        assert re.search(rb"command - high (\d+) ms, low \1 ms \(all time high \1 ms\)\n-{80}\n", ours)
    finally:
        d.both("CONFIG", "SET", "latency-monitor-threshold", "0")
        d.both("LATENCY", "RESET")
        d.close()


def test_latency_graph_drawing_matches_redis(debug_oracle):
    """Several samples of different heights: redis-server's own graph against respdb's renderer fed
    redis-server's LATENCY HISTORY (the samples cannot be made equal on two servers)."""
    import time

    from respdb.commands.introspection import latency_ago, sparkline

    conn = Raw(debug_oracle.port)
    conn.request(resp("LATENCY", "RESET"))
    conn.request(resp("CONFIG", "SET", "latency-monitor-threshold", "1"))
    try:
        for seconds in ("1.0", "1.3", "1.05", "1.1"):  # each sleep ends in a later second: one sample each
            conn.request(resp("DEBUG", "SLEEP", seconds))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            before = int(time.time())
            history = parse(conn.request(resp("LATENCY", "HISTORY", "command")))[1]
            graph = parse(conn.request(resp("LATENCY", "GRAPH", "command")))[1]
            if int(time.time()) == before:
                break
        samples = [(pair[1][0][1], pair[1][1][1]) for pair in history]
        assert len(samples) == 4
        values = [ms for _, ms in samples]
        body = graph.split(b"\n", 2)[2].decode()
        assert body == sparkline(values, [latency_ago(before - ts) for ts, _ in samples])
    finally:
        conn.request(resp("CONFIG", "SET", "latency-monitor-threshold", "0"))
        conn.request(resp("LATENCY", "RESET"))
        conn.close()
