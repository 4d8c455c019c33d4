"""parser.py's hiredis fast path in C (respdb._speedups.hiredis_whole / big_count) against its Python
reference in the same file: the same reads, split at random points, give the same commands, the same
leftovers and the same protocol errors."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respdb.protocol import parser as P

pytestmark = pytest.mark.skipif(P._hiredis_whole_c is None, reason="respdb._speedups not built")

_TOKENS = [
    b"*1\r\n$4\r\nPING\r\n", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
    b"*0\r\n", b"*-1\r\n", b"$-1\r\n", b"$0\r\n\r\n", b"_\r\n", b":0\r\n", b"#f\r\n", b"~1\r\n$1\r\na\r\n",
    b">1\r\n$1\r\na\r\n", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n", b"|1\r\n$1\r\na\r\n$1\r\nb\r\n", b"*1\r\n*1\r\n$1\r\na\r\n",
    b"*1\r\n:5\r\n", b"PING\r\n", b"*100000\r\n", b"*1\r\n$9\r\nx*1234567\r\n", b"*2\r\n$3\r\nSET\r\n$5\r\nab\r\n",
    b"*1\r\n$3\r\nabcdef\r\n", b"*x\r\n", b"*1\r\n$20\r\n" + b"v" * 20 + b"\r\n", b"\r\n", b"*1\r\n$2\r\n\r\n\r\n",
]


def _run(data: bytes, cuts: list[int], native: bool, monkeypatch: pytest.MonkeyPatch, max_len: int = 16) -> list[object]:
    with monkeypatch.context() as m:
        if not native:
            m.setattr(P, "_hiredis_whole_c", None)
            m.setattr(P, "_BIG_COUNT", re.compile(rb"\*-?\d{6}").search)
        parser = P.RequestParser(max_bulk_len=max_len)
        events: list[object] = []
        bounds = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
        for a, b in itertools.pairwise(bounds):
            try:
                events.append(parser.feed(data[a:b]))
            except P.ProtocolError as exc:
                events.append(("error", str(exc), exc.commands))
                break
        events.append(parser.pending())
        return events


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=12), st.lists(st.integers(0, 400), max_size=4))
def test_hiredis_whole_c_matches_python_reference(tokens: list[bytes], cuts: list[int]) -> None:
    data = b"".join(tokens)
    with pytest.MonkeyPatch.context() as mp:
        assert _run(data, cuts, True, mp) == _run(data, cuts, False, mp)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3000), st.sampled_from([b"", b"~1\r\n", b"*0\r\n"])), min_size=1, max_size=12),
    st.lists(st.integers(0, 40000), max_size=3),
)
def test_hiredis_whole_c_matches_python_on_reads_larger_than_its_feed_slices(values: list[tuple[int, bytes]], cuts: list[int]) -> None:
    """Reads over 4 KB are fed to hiredis in slices; commands straddle the slice edges."""
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%b\r\n%b" % (n, b"v" * n, extra) for n, extra in values)
    with pytest.MonkeyPatch.context() as mp:
        assert _run(data, cuts, True, mp, 1 << 20) == _run(data, cuts, False, mp, 1 << 20)
    # Whole well-formed commands must come from the C path itself, not from the exact parser it
    # falls back to when anything looks odd (which would hide a slicing bug).
    plain = b"".join(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%b\r\n" % (n, b"v" * n) for n, _ in values)
    reader = P.hiredis.Reader(notEnoughData=P._NEED_MORE)
    got = P._hiredis_whole_c(reader, plain, len(plain), 1 << 20, P._NEED_MORE, P._PARTIAL)
    assert got == [[b"SET", b"k", b"v" * n] for n, _ in values]


@given(st.binary(max_size=64))
def test_big_count_c_matches_regex(data: bytes) -> None:
    from respdb import _speedups

    assert _speedups.big_count(data) == bool(re.search(rb"\*-?\d{6}", data))
