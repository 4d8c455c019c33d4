"""Differential ACL tests: the same ACL SETUSER/GETUSER/LIST/DRYRUN/CAT requests to respdb and to
redis-server 7.0.15, replies compared byte for byte.

Two things cannot be byte-identical and are normalised, each for a stated reason:
- Redis emits the single-command part of a rule description ("-@all +@hash +get +set") in the
  iteration order of its command dict, which is seeded at random per process (two runs of
  redis-server print different orders), so those tokens are compared as a set.
- ACL CAT lists come in that same random order (compared as sets), and respdb's few 7.2 additions
  (CLIENT SETINFO, CLIENT NO-TOUCH) are left out of the comparison.
ACL state is global on the shared oracle: every test uses unique user names and deletes them.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diff import Differ
from tests.servers import ROOT, Raw, resp

_COUNTER = itertools.count()


def _respdb_only_commands() -> set[bytes]:
    """Commands respdb adds beyond Redis 7.0 (CLIENT SETINFO, CLIENT NO-TOUCH from 7.2)."""
    from respdb.commands import load_all
    from respdb.commands.registry import COMMANDS

    load_all()
    table = json.loads((ROOT / "respdb/commands/redis7_commands.json").read_text())
    ours = set(COMMANDS) | {s.name for c in COMMANDS.values() for s in c.subcommands.values()}
    theirs = set()
    for name, row in table.items():
        theirs.add(name)
        subs = row["info"][9]
        theirs.update(sub[0] for sub in (subs["~"] if isinstance(subs, dict) else subs))
    return {n.encode() for n in ours - theirs}


EXTRA = _respdb_only_commands()


def _unique(prefix: str = "dacl") -> str:
    return f"{prefix}{next(_COUNTER)}x{Path.cwd().stat().st_ino % 1000}"


def _norm_rules(text: bytes) -> tuple[list[bytes], frozenset[bytes]]:
    """(leading +@all/-@all and category tokens in order, set of single-command tokens)."""
    tokens = text.split()
    head = [t for t in tokens if t[1:2] == b"@"]
    singles = frozenset(t for t in tokens if t[1:2] != b"@" and t[1:] not in EXTRA)
    return head, singles


def _norm_line(line: bytes) -> tuple:
    """An ACL LIST line: everything except command tokens verbatim, command rules normalised."""
    tokens = line.split()
    fixed = [t for t in tokens if t[:1] not in (b"+", b"-")]
    return fixed, _norm_rules(b" ".join(t for t in tokens if t[:1] in (b"+", b"-")))


class AclPair:
    def __init__(self, server, oracle) -> None:
        self.ours = Raw(server.port)
        self.theirs = Raw(oracle.port)
        self.users: list[str] = []

    def both(self, *args: str | bytes) -> tuple[bytes, bytes]:
        req = resp(*args)
        return self.ours.request(req), self.theirs.request(req)

    def same(self, *args: str | bytes) -> bytes:
        a, b = self.both(*args)
        assert a == b, f"{args!r}: respdb {a!r} != redis {b!r}"
        return a

    def setuser(self, name: str, *rules: str) -> bytes:
        if name not in self.users:
            self.users.append(name)
        return self.same("ACL", "SETUSER", name, *rules)

    def compare_user(self, name: str) -> None:
        import hiredis

        a, b = self.both("ACL", "GETUSER", name)
        ra, rb = hiredis.Reader(), hiredis.Reader()
        ra.feed(a)
        rb.feed(b)
        ua, ub = ra.gets(), rb.gets()
        if ua is None or ub is None:
            assert a == b
            return
        da, db = _as_dict(ua), _as_dict(ub)
        assert list(da) == list(db)
        for field in da:
            if field == b"commands":
                assert _norm_rules(da[field]) == _norm_rules(db[field]), (name, da[field], db[field])
            elif field == b"selectors":
                assert len(da[field]) == len(db[field])
                for sa, sb in zip(da[field], db[field], strict=True):
                    xa, xb = _as_dict(sa), _as_dict(sb)
                    assert _norm_rules(xa.pop(b"commands")) == _norm_rules(xb.pop(b"commands"))
                    assert xa == xb
            else:
                assert da[field] == db[field], (name, field, da[field], db[field])
        la, lb = self._list_line(self.ours, name), self._list_line(self.theirs, name)
        assert _norm_line(la) == _norm_line(lb), (la, lb)

    def _list_line(self, conn: Raw, name: str) -> bytes:
        import hiredis

        reader = hiredis.Reader()
        reader.feed(conn.request(resp("ACL", "LIST")))
        prefix = b"user " + name.encode() + b" "
        return next(line for line in reader.gets() if line.startswith(prefix))

    def close(self) -> None:
        if self.users:
            self.both("ACL", "DELUSER", *self.users)
        self.ours.close()
        self.theirs.close()


def _as_dict(flat: list) -> dict:
    return dict(zip(flat[::2], flat[1::2], strict=True))


@pytest.fixture
def acl(server, oracle):
    pair = AclPair(server, oracle)
    yield pair
    pair.close()


RULE_SETS = [
    [],
    ["on", ">p1", ">p2", "<p1"],
    ["on", "nopass"],
    ["on", ">p", "resetpass"],
    ["#" + "a" * 64, "!" + "a" * 64],
    ["#" + "A" * 64],
    ["#abc"],
    ["<nothere"],
    ["!" + "b" * 64],
    ["~k*", "%R~r*", "%W~w*", "%RW~rw*", "%WR~x", "~k*"],
    ["%R~a", "%W~a"],
    ["allkeys", "~x"],
    ["~*", "resetkeys", "~y"],
    ["%X~a"],
    ["%RR~a"],
    ["%R"],
    ["%~a"],
    ["%"],
    ["~", "&"],
    ["%r~a", "%Rw~b"],
    ["+GET", "-CONFIG|GET", "+config|GET", "+select|ABC", "+select|abc"],
    ["~a b"],
    ["&ch*", "&ch*", "&other"],
    ["allchannels", "&x"],
    ["&*", "resetchannels", "&z"],
    ["+@all"],
    ["allcommands", "-@dangerous"],
    ["+@all", "-@admin", "+config|get", "-select", "+select|0", "+select|1"],
    ["-@all", "+select|0", "+client", "-client|kill"],
    ["+@read", "-@keyspace"],
    ["+@hash", "+@string", "-hset"],
    ["+@write", "-@slow"],
    ["+@pubsub", "+@connection", "-@fast"],
    ["+@scripting", "-eval"],
    ["+get", "+set", "+config|get", "-@dangerous", "+@hash"],
    ["+@all", "-@read", "+get"],
    ["nocommands", "+debug|object"],
    ["+config|get|x"],
    ["+select|"],
    ["+nosuchcmd"],
    ["-nosuchcmd"],
    ["+@nosuchcat"],
    ["-select|0"],
    ["+config|nosuch"],
    ["+get|x"],
    ["foo"],
    ["reset"],
    ["on", ">pw", "~k", "+get", "reset"],
    ["(+get ~k*)", "(+set %W~w*)"],
    ["(+get", "~k*)"],
    ["(+get ~k*", "&c)", "clearselectors"],
    ["(+get"],
    ["(+get ~a)", "(+get ~b", "&x"],
    ["(nosuchop)"],
    ["(&* +@all ~*)"],
    ["()"],
    ["skip-sanitize-payload"],
    ["sanitize-payload", "skip-sanitize-payload"],
    ["ON", "NOPASS", "ALLKEYS", "ALLCHANNELS", "+@ALL", "-GET"],
    ["", "on"],
]


@pytest.mark.parametrize("rules", RULE_SETS, ids=[" ".join(r)[:40] or "empty" for r in RULE_SETS])
def test_acl_setuser_getuser_list_match_redis(acl: AclPair, rules: list[str]) -> None:
    name = _unique()
    acl.setuser(name, *rules)
    acl.compare_user(name)


def test_acl_setuser_errors_leave_user_unchanged(acl: AclPair) -> None:
    name = _unique()
    acl.setuser(name, "on", ">pw", "~k*", "+get")
    acl.setuser(name, "+set", "~other", "+nosuch")
    acl.compare_user(name)
    acl.same("ACL", "SETUSER", "a b", "on")
    acl.same("ACL", "SETUSER", "a\x00b", "on")


def test_acl_dryrun_matches_redis(acl: AclPair) -> None:
    name = _unique()
    acl.setuser(name, "on", "nopass", "~k*", "%R~r*", "&c*", "+get", "+set", "+publish", "+subscribe", "+psubscribe",
                "+mget", "+lmove", "+config|get", "+select|1", "(+del ~d*)")
    for args in [
        ("get", "k1"), ("get", "x"), ("set", "k1", "v"), ("set", "r1", "v"), ("get", "r1"), ("mget", "k1", "x", "k2"),
        ("lmove", "k1", "r1", "left", "left"), ("lmove", "r1", "k1", "left", "left"), ("publish", "c1", "m"),
        ("publish", "d", "m"), ("subscribe", "c1", "d"), ("psubscribe", "c*"), ("psubscribe", "c1"),
        ("config", "get", "maxmemory"), ("config", "set", "x", "y"), ("select", "1"), ("select", "2"),
        ("del", "d1"), ("del", "k1"), ("del", "x"), ("hset", "k", "f", "v"), ("get",), ("nosuch",),
        ("config",), ("config", "nosuch"), ("auth", "a", "b"), ("ping",), ("lpush", "k1", "x"),
    ]:
        acl.same("ACL", "DRYRUN", name, *args)
    acl.same("ACL", "DRYRUN", "nosuchuser-dacl", "get", "x")


def test_acl_misc_subcommands_match_redis(acl: AclPair) -> None:
    for args in [
        ("ACL", "CAT"), ("ACL", "CAT", "nosuch"), ("ACL", "CAT", "a", "b"), ("ACL", "HELP"), ("ACL", "WHOAMI"),
        ("ACL", "WHOAMI", "x"), ("ACL", "GENPASS", "x"), ("ACL", "GENPASS", "0"), ("ACL", "GENPASS", "4097"),
        ("ACL", "LOG", "x"), ("ACL", "LOG", "1", "2"), ("ACL", "DELUSER", "default"), ("ACL", "DELUSER", "nosuch-dacl"),
        ("ACL", "GETUSER", "nosuch-dacl"), ("ACL", "SAVE"), ("ACL", "LOAD"), ("ACL", "NOSUCH"), ("ACL",),
        ("ACL", "USERS", "x"), ("ACL", "LIST", "x"), ("ACL", "SETUSER"), ("ACL", "DRYRUN", "x"),
    ]:
        acl.same(*args)
    for bits in ("1", "4", "5", "255", "4096"):
        a, b = acl.both("ACL", "GENPASS", bits)
        assert len(a) == len(b)


@pytest.mark.parametrize("category", ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
                                      "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
                                      "blocking", "dangerous", "connection", "transaction", "scripting"])
def test_acl_cat_category_matches_redis(server, oracle, category: str) -> None:
    ours, theirs = server.client(), oracle.client()
    a = {n.encode() if isinstance(n, str) else n for n in ours.execute_command("ACL", "CAT", category)}
    b = {n for n in theirs.execute_command("ACL", "CAT", category)}
    assert a - EXTRA == b


def test_acl_getuser_resp3_matches_redis(server, oracle) -> None:
    name = _unique()
    ours, theirs = Raw(server.port), Raw(oracle.port)
    try:
        d = Differ(server, oracle, resp3=True)
        d.check("ACL", "SETUSER", name, "on", ">x", "~k", "&c", "-@all", "+get")
        d.check("ACL", "GETUSER", name)
        d.check("ACL", "GETUSER", "nosuch-dacl")
        d.check("ACL", "LOG", "-1")
        d.check("ACL", "LOG", "RESET")
        d.check("ACL", "DRYRUN", name, "get", "k")
        a, b = d.both("AUTH", name, "wrong")
        assert a == b
        # Entries are RESP3 maps with a double age: equal up to the age, which differs by timing.
        a, b = d.both("ACL", "LOG", compare=False)
        head_a, _, tail_a = a.partition(b"$11\r\nage-seconds\r\n")
        head_b, _, tail_b = b.partition(b"$11\r\nage-seconds\r\n")
        assert head_a == head_b and head_a.startswith(b"*1\r\n%7\r\n")
        assert tail_a[:1] == tail_b[:1] == b","
        d.check("ACL", "DELUSER", name)
        d.close()
    finally:
        ours.close()
        theirs.close()


_RULE_POOL = [
    "on", "off", "nopass", "resetpass", ">a", ">b", "<a", "~k*", "%R~r*", "%W~w*", "allkeys", "resetkeys",
    "&c*", "allchannels", "resetchannels", "+@all", "-@all", "+@read", "-@write", "+@hash", "-@dangerous",
    "+@string", "-@slow", "+get", "-get", "+set", "+config|get", "-config", "+client", "-client|kill",
    "+select|0", "(+get ~x)", "clearselectors", "reset",
]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(_RULE_POOL), min_size=1, max_size=8))
def test_acl_random_rule_sequences_match_redis(server, oracle, rules: list[str]) -> None:
    pair = AclPair(server, oracle)
    try:
        name = _unique("hyp")
        pair.setuser(name, *rules)
        pair.compare_user(name)
        for args in (("get", "k1"), ("set", "w1", "v"), ("get", "r1"), ("publish", "c1", "m"), ("config", "get", "x")):
            pair.same("ACL", "DRYRUN", name, *args)
    finally:
        pair.close()


def test_acl_aclfile_load_errors_and_round_trip_match_redis(tmp_path) -> None:
    """Same aclfile content to both servers (each with its own file at the same relative spot):
    ACL LOAD errors identical (paths aside), and a file saved by Redis loads into respdb as the same users."""
    from tests.servers import redis_oracle, respdb_server

    ours_file, theirs_file = tmp_path / "ours.acl", tmp_path / "theirs.acl"
    base = "user default on nopass ~* &* +@all\n"
    for f in (ours_file, theirs_file):
        f.write_text(base)
    with respdb_server("--aclfile", str(ours_file)) as ours, redis_oracle("--aclfile", str(theirs_file)) as theirs:
        a, b = Raw(ours.port), Raw(theirs.port)
        bad = (base + "user bad on +nosuchcommand\nnonsense\nuser x (+get\nuser \"a b\" on\nuser y on\nuser y off\n"
               "user z #abc\nuser w on >secretpw <otherpw\nuser v on allkeys ~x\n")
        for f in (ours_file, theirs_file):
            f.write_text(bad)
        ra, rb = a.request(resp("ACL", "LOAD")), b.request(resp("ACL", "LOAD"))
        assert ra.replace(str(ours_file).encode(), b"F") == rb.replace(str(theirs_file).encode(), b"F")
        assert b"secretpw" not in ra
        b.request(resp("ACL", "SETUSER", "svc", "on", ">pw", "~svc:*", "%R~ro:*", "&q*", "+@read", "-@dangerous",
                       "(+set ~w*)", "+select|0"))
        assert b.request(resp("ACL", "SAVE")) == b"+OK\r\n"
        ours_file.write_text(theirs_file.read_text())
        assert a.request(resp("ACL", "LOAD")) == b"+OK\r\n"
        assert a.request(resp("ACL", "SAVE")) == b"+OK\r\n"
        ours_lines = [_norm_line(line.encode()) for line in ours_file.read_text().splitlines()]
        theirs_lines = [_norm_line(line.encode()) for line in theirs_file.read_text().splitlines()]
        assert ours_lines == theirs_lines
        a.close()
        b.close()


def _log_fields(conn: Raw) -> list[list]:
    """ACL LOG entries without age-seconds and client-info (times and addresses differ)."""
    import hiredis

    reader = hiredis.Reader()
    reader.feed(conn.request(resp("ACL", "LOG", "50")))
    out = []
    for entry in reader.gets():
        d = _as_dict(entry)
        out.append([d[b"count"], d[b"reason"], d[b"context"], d[b"object"], d[b"username"]])
    return out


ENFORCED = [
    ("GET", "app:1"), ("GET", "other"), ("SET", "app:1", "v"), ("SET", "ro:1", "v"), ("GET", "ro:1"),
    ("SET", "wo:1", "v"), ("GET", "wo:1"), ("SET", "wo:1", "v", "GET"), ("MGET", "app:1", "ro:1", "x"),
    ("COPY", "ro:1", "wo:2"), ("COPY", "wo:1", "ro:2"), ("LMOVE", "ro:1", "wo:1", "LEFT", "LEFT"),
    ("DEL", "app:1"), ("FLUSHALL",), ("CONFIG", "SET", "timeout", "0"), ("CONFIG", "GET", "timeout"),
    ("PUBLISH", "news.1", "m"), ("PUBLISH", "sport", "m"), ("SUBSCRIBE", "sport"),
    ("EVAL", "return redis.call('get', KEYS[1])", "1", "x"), ("EVAL", "return redis.call('get', 'x')", "0"),
    ("EVAL", "return redis.call('set', 'app:2', 'v')", "0"), ("EVAL", "return redis.pcall('flushall')", "0"),
    ("EVAL", "return redis.acl_check_cmd('set', 'app:3', 'v')", "0"),
    ("MULTI",), ("GET", "app:1"), ("SET", "zz", "v"), ("EXEC",), ("SELECT", "0"), ("SELECT", "1"),
    ("BITFIELD", "ro:1", "GET", "u8", "0"), ("BITFIELD", "ro:1", "SET", "u8", "0", "1"),
    ("AUTH", "nosuch-dacl-user", "pw"), ("PING",), ("ACL", "WHOAMI"), ("NOSUCHCMD",), ("GET",),
]


def test_acl_enforcement_replies_and_log_match_redis(acl: AclPair) -> None:
    name = _unique("enf")
    acl.setuser(name, "on", ">pw", "~app:*", "%R~ro:*", "%W~wo:*", "&news.*", "+@all", "-@dangerous",
                "+config|get", "-select", "+select|0", "-eval", "+eval")
    acl.same("ACL", "LOG", "RESET")
    ours, theirs = Raw(acl.ours.sock.getpeername()[1]), Raw(acl.theirs.sock.getpeername()[1])
    try:
        assert ours.request(resp("AUTH", name, "pw")) == theirs.request(resp("AUTH", name, "pw")) == b"+OK\r\n"
        for args in ENFORCED:
            a, b = ours.request(resp(*args)), theirs.request(resp(*args))
            assert a == b, f"{args!r}: respdb {a!r} != redis {b!r}"
        assert _log_fields(acl.ours) == _log_fields(acl.theirs)
    finally:
        ours.close()
        theirs.close()


def test_acl_requirepass_flows_match_redis() -> None:
    """NOAUTH, AUTH forms, HELLO AUTH and the default user's password with requirepass, byte for byte."""
    from tests.servers import redis_oracle, respdb_server

    with respdb_server("--requirepass", "pw1", password="pw1") as ours, redis_oracle("--requirepass", "pw1") as theirs:
        a, b = Raw(ours.port), Raw(theirs.port)
        steps = [
            ("PING",), ("ACL", "WHOAMI"), ("AUTH", "bad"), ("AUTH", "default", "bad"), ("AUTH", "a", "b", "c"),
            ("HELLO", "3", "AUTH", "default", "bad"), ("HELLO", "2"), ("AUTH", "pw1"), ("ACL", "WHOAMI"),
            ("ACL", "GETUSER", "default"), ("CONFIG", "SET", "requirepass", "pw2"), ("ACL", "GETUSER", "default"),
            ("AUTH", "pw1"), ("AUTH", "default", "pw2"), ("ACL", "SETUSER", "default", ">extra"), ("CONFIG", "GET", "requirepass"),
            ("ACL", "GETUSER", "default"), ("CONFIG", "SET", "requirepass", ""), ("ACL", "GETUSER", "default"),
            ("AUTH", "whatever"), ("AUTH", "default", "whatever"),
        ]
        last = [("ACL", "SETUSER", "default", "resetpass"), ("RESET",), ("PING",), ("AUTH", "default", "x")]
        for i, args in enumerate(steps + last):
            if i == len(steps):
                assert _log_fields(a) == _log_fields(b)
            ra, rb = a.request(resp(*args)), b.request(resp(*args))
            assert ra == rb, f"{args!r}: respdb {ra!r} != redis {rb!r}"
        a.close()
        b.close()


def test_acl_unauthenticated_clients_follow_default_user_changes_as_redis() -> None:
    """Redis asks on every command whether the default user needs a password: a client that never
    authenticated may run commands while requirepass is cleared, and gets NOAUTH again once set."""
    from tests.servers import redis_oracle, respdb_server

    with respdb_server() as ours, redis_oracle() as theirs:
        replies = []
        for sp in (ours, theirs):
            adm, out = Raw(sp.port), []
            adm.request(resp("CONFIG", "SET", "requirepass", "pw"))
            a = Raw(sp.port)
            out.append(a.request(resp("PING")))
            adm.request(resp("CONFIG", "SET", "requirepass", ""))
            out.append(a.request(resp("PING")))
            adm.request(resp("CONFIG", "SET", "requirepass", "pw"))
            out.append(a.request(resp("PING")))
            adm.request(resp("AUTH", "pw"))
            adm.request(resp("CONFIG", "SET", "requirepass", ""))
            c = Raw(sp.port)
            out.append(c.request(resp("PING")))
            adm.request(resp("CONFIG", "SET", "requirepass", "pw"))
            out += [c.request(resp("PING")), a.request(resp("RESET")), a.request(resp("PING"))]
            adm.request(resp("AUTH", "pw"))
            adm.request(resp("ACL", "SETUSER", "default", "off"))
            out.append(c.request(resp("PING")))
            adm.request(resp("ACL", "SETUSER", "default", "on", "nopass"))
            out.append(a.request(resp("PING")))
            replies.append(out)
            for conn in (adm, a, c):
                conn.close()
        assert replies[0] == replies[1]
