"""Progress lines while a .cdb or an AOF loads at start.

The loader reports every `loading-process-events-interval-bytes` (Redis's own knob for how often a
load updates its statistics; minimum 1024): at verbose level each time, at notice level at most once
a second. A small interval and `--loglevel verbose` make a small file show its steps.
"""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest

from tests.servers import respdb_server

_PROGRESS = re.compile(r"([-*]) Loading (CDB|AOF|CDB preamble): (\d+\.\d\d)% \((\d+) of (\d+) bytes, (\d+) keys\) after (\d+\.\d{3}) seconds$")


def _fill(client, n: int, prefix: str = "") -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.hset(f"{prefix}h{i}", mapping={"field": i, "other": "x" * 12})
        pipe.set(f"{prefix}s{i}", "v" * 16)
    pipe.execute()


def _progress(log: str, what: str) -> list[tuple[str, float, int, int, int]]:
    out = []
    for line in log.splitlines():
        m = _PROGRESS.search(line)
        if m and m.group(2) == what:
            out.append((m.group(1), float(m.group(3)), int(m.group(4)), int(m.group(5)), int(m.group(6))))
    return out


@pytest.fixture(scope="module")
def cdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding a dump.cdb of 5000 hashes and 5000 strings (about 400 KB)."""
    wd = tmp_path_factory.mktemp("load-progress")
    with respdb_server("--save", "", workdir=wd) as sp:
        client = sp.client()
        _fill(client, 5000)
        client.save()
    (wd / "server.log").unlink()
    return wd


def test_load_progress_cdb_steps_at_verbose_level(cdb_dir):
    with respdb_server("--save", "", "--loglevel", "verbose", "--loading-process-events-interval-bytes", "16384", workdir=cdb_dir) as sp:
        assert sp.client().dbsize() == 10000
        log = sp.log_text()
    (cdb_dir / "server.log").unlink()
    steps = _progress(log, "CDB")
    total = steps[0][3] if steps else 0
    assert total > 16384 * 10
    # One line per 16 KB step of the hash values (decoded one by one); the string column loads in
    # one piece, so the first line can already be past several steps.
    assert len(steps) >= (total // 16384) // 2
    percents = [s[1] for s in steps]
    done = [s[2] for s in steps]
    keys = [s[4] for s in steps]
    assert percents == sorted(percents) and percents[-1] < 100
    assert done == sorted(set(done)) and all(b // 16384 > a // 16384 for a, b in pairwise(done))
    assert keys == sorted(keys) and 0 < keys[-1] <= 10000
    assert all(s[3] == total for s in steps)
    # The progress comes before the closing lines Redis prints too.
    assert log.index("Loading CDB:") < log.index("Done loading CDB, keys loaded: 10000, keys expired: 0.")
    assert log.index("Done loading CDB") < log.index("DB loaded from disk:")


def test_load_progress_notice_level_at_most_once_a_second(cdb_dir):
    with respdb_server("--save", "", "--loading-process-events-interval-bytes", "1024", workdir=cdb_dir) as sp:
        log = sp.log_text()
    (cdb_dir / "server.log").unlink()
    seconds = float(re.search(r"DB loaded from disk: (\d+\.\d+) seconds", log).group(1))  # type: ignore[union-attr]
    steps = _progress(log, "CDB")
    assert all(kind == "*" for kind, *_ in steps)  # notice lines only at this log level
    assert len(steps) <= int(seconds)  # the first one no earlier than a second into the load


def test_load_progress_default_interval_is_quiet_for_a_small_file(cdb_dir):
    with respdb_server("--save", "", "--loglevel", "verbose", workdir=cdb_dir) as sp:
        assert sp.client().config_get("loading-process-events-interval-bytes") == {"loading-process-events-interval-bytes": "2097152"}
        log = sp.log_text()
    (cdb_dir / "server.log").unlink()
    assert _progress(log, "CDB") == []  # the file is smaller than 2 MB: no step is reached
    assert "Done loading CDB, keys loaded: 10000" in log


def test_load_progress_aof_steps_at_verbose_level(tmp_path):
    with respdb_server("--save", "", "--appendonly", "yes", workdir=tmp_path) as sp:
        _fill(sp.client(), 3000)
    (tmp_path / "server.log").unlink()
    with respdb_server(
        "--save", "", "--appendonly", "yes", "--loglevel", "verbose", "--loading-process-events-interval-bytes", "8192", workdir=tmp_path
    ) as sp:
        assert sp.client().dbsize() == 6000
        log = sp.log_text()
    steps = _progress(log, "AOF")
    assert len(steps) >= 10
    done = [s[2] for s in steps]
    assert done == sorted(set(done))
    assert steps[-1][1] == 100.0 and steps[-1][4] == 6000
