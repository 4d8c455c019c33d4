"""Unit tests of the sans-IO codec: every case parsed whole, one byte at a time, and with trailing bytes."""

from __future__ import annotations

import pytest

from respdb.protocol import ProtocolError, RequestParser, encode_resp2, encode_resp3
from respdb.protocol.types import NULL_ARRAY, Bool, Double, Map, PairList, Push, Set, Simple, Verbatim

CASES = [
    (b"*1\r\n$4\r\nPING\r\n", [[b"PING"]]),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", [[b"SET", b"k", b""]]),
    (b"*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n", [[b"GET", b"a\r\nb"]]),
    (b"PING\r\n", [[b"PING"]]),
    (b"PING\n", [[b"PING"]]),
    (b"set a \"b c\" 'd e'\r\n", [[b"set", b"a", b"b c", b"d e"]]),
    (b"set a \"\\x41\\n\"\r\n", [[b"set", b"a", b"A\n"]]),
    (b"\r\n\r\nPING\r\n", [[b"PING"]]),
    (b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", [[b"PING"]]),
    (b"*1\r\n$4\r\nPING\r\nECHO x\r\n*2\r\n$4\r\nECHO\r\n$1\r\ny\r\n", [[b"PING"], [b"ECHO", b"x"], [b"ECHO", b"y"]]),
]


def _parse_bytewise(data: bytes) -> list[list[bytes]]:
    parser = RequestParser()
    out: list[list[bytes]] = []
    for i in range(len(data)):
        out.extend(parser.feed(data[i : i + 1]))
    return out


@pytest.mark.parametrize(("data", "expected"), CASES)
def test_parse_whole(data, expected):
    assert RequestParser().feed(data) == expected


@pytest.mark.parametrize(("data", "expected"), CASES)
def test_parse_byte_by_byte(data, expected):
    assert _parse_bytewise(data) == expected


@pytest.mark.parametrize(("data", "expected"), CASES)
def test_parse_with_trailing_partial_command(data, expected):
    parser = RequestParser()
    assert parser.feed(data + b"*2\r\n$3\r\nGET\r\n$1") == expected
    assert parser.feed(b"\r\nz\r\n") == [[b"GET", b"z"]]
    assert parser.pending() == 0


ERRORS = [
    (b"*abc\r\n", "Protocol error: invalid multibulk length"),
    (b"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"),
    (b"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"),
    (b"*1\r\n:5\r\n", "Protocol error: expected '$', got ':'"),
    (b"*1\r\n*1\r\n$1\r\na\r\n", "Protocol error: expected '$', got '*'"),
    (b"*3000000000\r\n", "Protocol error: invalid multibulk length"),
    (b"set a \"bc\r\n", "Protocol error: unbalanced quotes in request"),
    (b"set a \"b\"c\r\n", "Protocol error: unbalanced quotes in request"),
    (b"*1\r\n$600000000\r\n", "Protocol error: invalid bulk length"),
]


@pytest.mark.parametrize(("data", "message"), ERRORS)
def test_protocol_errors_have_redis_text(data, message):
    with pytest.raises(ProtocolError) as exc:
        RequestParser().feed(data)
    assert str(exc.value) == message
    with pytest.raises(ProtocolError) as exc:
        _parse_bytewise(data)
    assert str(exc.value) == message


def test_commands_before_a_protocol_error_are_not_returned_twice():
    parser = RequestParser()
    with pytest.raises(ProtocolError):
        parser.feed(b"*1\r\n$4\r\nPING\r\n*x\r\n")


def test_inline_too_big_without_newline():
    with pytest.raises(ProtocolError, match="too big inline request"):
        RequestParser().feed(b"A" * (64 * 1024 + 1))


def test_unauthenticated_limits():
    parser = RequestParser()
    parser.auth_required = True
    with pytest.raises(ProtocolError, match="unauthenticated multibulk length"):
        parser.feed(b"*11\r\n")
    parser = RequestParser()
    parser.auth_required = True
    with pytest.raises(ProtocolError, match="unauthenticated bulk length"):
        parser.feed(b"*1\r\n$16385\r\n")


def test_large_bulk_across_many_reads():
    value = b"v" * 300_000
    data = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n" % (len(value), value)
    parser = RequestParser()
    out = []
    for i in range(0, len(data), 4096):
        out.extend(parser.feed(data[i : i + 4096]))
    assert out == [[b"SET", b"k", value]]


def test_encode_resp2_and_resp3():
    reply = [b"a", 1, None, Map([b"k", b"v"]), Double(1.5), NULL_ARRAY, Set([b"x"]), Simple(b"OK")]
    assert encode_resp2(reply) == b"*8\r\n$1\r\na\r\n:1\r\n$-1\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n$3\r\n1.5\r\n*-1\r\n*1\r\n$1\r\nx\r\n+OK\r\n"
    assert encode_resp3(reply) == b"*8\r\n$1\r\na\r\n:1\r\n_\r\n%1\r\n$1\r\nk\r\n$1\r\nv\r\n,1.5\r\n_\r\n~1\r\n$1\r\nx\r\n+OK\r\n"


def test_encode_markers():
    assert encode_resp3(Push([b"message"])) == b">1\r\n$7\r\nmessage\r\n"
    assert encode_resp2(Push([b"message"])) == b"*1\r\n$7\r\nmessage\r\n"
    assert encode_resp3(Verbatim(b"hi")) == b"=6\r\ntxt:hi\r\n"
    assert encode_resp2(Verbatim(b"hi")) == b"$2\r\nhi\r\n"
    assert encode_resp3(Bool(True)) == b"#t\r\n"
    assert encode_resp2(Bool(False)) == b":0\r\n"
    assert encode_resp3(PairList([[b"a", Double(1.0)]])) == b"*1\r\n*2\r\n$1\r\na\r\n,1\r\n"
    assert encode_resp2(PairList([[b"a", Double(1.0)]])) == b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert encode_resp2(Double(float("inf"))) == b"$3\r\ninf\r\n"


def test_encoder_rejects_str():
    with pytest.raises(TypeError):
        encode_resp2("text")


def test_huge_multibulk_count_does_not_preallocate():
    """hiredis would reserve the whole array for `*2000000000`; such counts go to the Python parser,
    which holds only the arguments actually received."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parser = RequestParser()
    assert parser.feed(b"*2000000000\r\n$3\r\nSET\r\n") == []
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB: < 100 MB
