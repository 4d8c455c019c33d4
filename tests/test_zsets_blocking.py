"""Sorted set blocking pops served from the key that became ready, and the per-element dirty counter of
the zset and geo writes. Every scenario runs against respdb and redis-server 7.0 over raw sockets and the
transcripts must be identical; waits poll INFO blocked_clients with a deadline, never a fixed sleep."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tests.servers import Raw, ServerProcess, resp


class Session:
    """Named raw connections to one server and the transcript of every reply read."""

    def __init__(self, server: ServerProcess) -> None:
        self.port = server.port
        self.conns: dict[str, Raw] = {}
        self.control = Raw(server.port)
        self.control.request(resp("FLUSHALL"))
        self.transcript: list[tuple[str, bytes]] = []

    def conn(self, name: str) -> Raw:
        if name not in self.conns:
            self.conns[name] = Raw(self.port)
        return self.conns[name]

    def call(self, name: str, *args: str, record: bool = True) -> bytes:
        reply = self.conn(name).request(resp(*args))
        if record:  # HELLO carries a connection id that differs between the servers
            self.transcript.append((name, reply))
        return reply

    def send(self, name: str, *args: str) -> None:
        self.conn(name).send(resp(*args))

    def read(self, name: str) -> bytes:
        reply = self.conn(name).read_until_count(1)
        self.transcript.append((name, reply))
        return reply

    def info_field(self, section: str, field: str) -> int:
        info = self.control.request(resp("INFO", section)).decode()
        return int(re.search(rf"{field}:(\d+)", info).group(1))  # type: ignore[union-attr]

    def wait_blocked(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while (have := self.info_field("clients", "blocked_clients")) != n:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {n} blocked clients, have {have}")
            time.sleep(0.005)

    def close(self) -> list[tuple[str, bytes]]:
        for raw in self.conns.values():
            raw.close()
        self.control.close()
        return self.transcript


def _both(server: ServerProcess, oracle: ServerProcess, steps: Callable[[Session], None]) -> list[tuple[str, bytes]]:
    """Run `steps` on respdb and on redis-server; the transcripts must be equal."""
    ours, theirs = Session(server), Session(oracle)
    try:
        steps(ours)
        steps(theirs)
    finally:
        a, b = ours.close(), theirs.close()
    assert a == b
    return a


def _fill_in_multi(s: Session, *commands: tuple[str, ...]) -> None:
    s.call("p", "MULTI")
    for cmd in commands:
        s.call("p", *cmd)
    s.call("p", "EXEC")


# --- served from the ready key ------------------------------------------------------------------------
def test_bzpopmin_served_from_the_key_that_became_ready(server, oracle):
    # Blocked on k1 k2; one transaction fills k2 then k1: Redis pops from k2, the key signalled first.
    def steps(s: Session) -> None:
        s.send("c", "BZPOPMIN", "k1", "k2", "0")
        s.wait_blocked(1)
        _fill_in_multi(s, ("ZADD", "k2", "2", "from-k2"), ("ZADD", "k1", "1", "from-k1"))
        s.read("c")
        s.call("p", "ZRANGE", "k1", "0", "-1")
        s.call("p", "EXISTS", "k2")

    transcript = _both(server, oracle, steps)
    assert transcript[4] == ("c", b"*3\r\n$2\r\nk2\r\n$7\r\nfrom-k2\r\n$1\r\n2\r\n")


def test_bzpopmax_first_key_filled_first_is_served_from_it(server, oracle):
    def steps(s: Session) -> None:
        s.send("c", "BZPOPMAX", "k1", "k2", "0")
        s.wait_blocked(1)
        _fill_in_multi(s, ("ZADD", "k1", "1", "a", "5", "b"), ("ZADD", "k2", "9", "z"))
        s.read("c")
        s.call("p", "ZRANGE", "k2", "0", "-1", "WITHSCORES")

    transcript = _both(server, oracle, steps)
    assert transcript[4] == ("c", b"*3\r\n$2\r\nk1\r\n$1\r\nb\r\n$1\r\n5\r\n")


def test_bzmpop_served_from_the_key_that_became_ready(server, oracle):
    def steps(s: Session) -> None:
        s.call("c", "HELLO", "3", record=False)
        s.send("c", "BZMPOP", "0", "3", "k1", "k2", "k3", "MAX", "COUNT", "2")
        s.wait_blocked(1)
        _fill_in_multi(s, ("ZADD", "k3", "1", "x", "2", "y", "3", "z"), ("ZADD", "k1", "1", "a"))
        s.read("c")
        s.call("p", "ZRANGE", "k3", "0", "-1")
        s.call("p", "ZRANGE", "k1", "0", "-1")

    _both(server, oracle, steps)


def test_bzpopmin_ready_key_deleted_in_the_same_transaction_serves_the_next(server, oracle):
    # k2 is signalled but gone when the waiter is served; k1 (signalled later) serves it.
    def steps(s: Session) -> None:
        s.send("c", "BZPOPMIN", "k1", "k2", "0")
        s.wait_blocked(1)
        _fill_in_multi(s, ("ZADD", "k2", "1", "b"), ("DEL", "k2"), ("ZADD", "k1", "1", "a"))
        s.read("c")
        s.call("p", "EXISTS", "k1", "k2")

    _both(server, oracle, steps)


def test_bzpopmin_ready_key_of_another_type_is_skipped(server, oracle):
    # A list pushed to k2 is no element for a zset waiter; the zset written to k1 afterwards is.
    def steps(s: Session) -> None:
        s.send("c", "BZPOPMIN", "k1", "k2", "0")
        s.wait_blocked(1)
        _fill_in_multi(s, ("RPUSH", "k2", "l"), ("ZADD", "k1", "1", "a"))
        s.read("c")
        s.call("p", "LRANGE", "k2", "0", "-1")

    _both(server, oracle, steps)


def test_bzpopmin_two_waiters_one_ready_key_each(server, oracle):
    # c1 waits on k1 k2, c2 on k2. k2 is filled first: c1 takes its only element; c2 stays blocked and
    # k1 keeps its element (c1 is no longer waiting) until c2 is served by a later write.
    def steps(s: Session) -> None:
        s.send("c1", "BZPOPMIN", "k1", "k2", "0")
        s.wait_blocked(1)
        s.send("c2", "BZPOPMIN", "k2", "0")
        s.wait_blocked(2)
        _fill_in_multi(s, ("ZADD", "k2", "1", "b"), ("ZADD", "k1", "1", "a"))
        s.read("c1")
        s.wait_blocked(1)
        s.call("p", "ZRANGE", "k1", "0", "-1")
        s.call("p", "ZADD", "k2", "3", "c")
        s.read("c2")
        s.wait_blocked(0)

    _both(server, oracle, steps)


def test_bzmpop_served_by_zunionstore_and_zrangestore_ready_order(server, oracle):
    # *STORE results signal their destination too; the first store in the transaction serves.
    def steps(s: Session) -> None:
        s.call("p", "ZADD", "src", "1", "a", "2", "b")
        s.send("c", "BZMPOP", "0", "2", "u", "r", "MIN", "COUNT", "5")
        s.wait_blocked(1)
        _fill_in_multi(s, ("ZRANGESTORE", "r", "src", "0", "0"), ("ZUNIONSTORE", "u", "1", "src"))
        s.read("c")
        s.call("p", "ZRANGE", "u", "0", "-1")

    _both(server, oracle, steps)


# --- dirty counter: one change per element, as Redis counts them ------------------------------------------
DIRTY_SEQUENCE = [
    ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZADD", "z", "1", "a", "5", "b", "3", "c", "4", "d"),
    ("ZADD", "z", "CH", "1", "a", "6", "b"), ("ZADD", "z", "XX", "7", "zz"), ("ZADD", "z", "NX", "9", "a"),
    ("ZADD", "z", "GT", "CH", "1", "a", "9", "b", "9", "c"), ("ZINCRBY", "z", "1", "a"),
    ("ZADD", "z", "INCR", "1", "q"), ("ZADD", "z", "9", "x"), ("ZREM", "z", "a", "b", "nope"), ("ZREM", "z", "nope"),
    ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "e", "5", "f"), ("ZREMRANGEBYRANK", "z", "0", "1"),
    ("ZREMRANGEBYSCORE", "z", "0", "4"), ("ZREMRANGEBYLEX", "z", "-", "+"), ("ZREMRANGEBYLEX", "z", "-", "+"),
    ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "e", "5", "f"), ("ZPOPMIN", "z", "2"), ("ZPOPMAX", "z", "10"),
    ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "e", "5", "f"), ("ZMPOP", "1", "z", "MIN", "COUNT", "3"),
    ("BZMPOP", "0", "1", "z", "MAX", "COUNT", "3"), ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("BZPOPMIN", "z", "0"),
    ("BZPOPMAX", "z", "0"), ("ZADD", "y", "1", "a", "2", "b", "3", "c"), ("ZUNIONSTORE", "u", "2", "z", "y"),
    ("ZINTERSTORE", "i", "2", "z", "y"), ("ZDIFFSTORE", "d", "2", "y", "y"), ("ZDIFFSTORE", "d", "2", "y", "y"),
    ("ZRANGESTORE", "r", "y", "0", "-1"), ("ZRANGESTORE", "r", "y", "5", "6"),
    ("GEOADD", "g", "1", "2", "p1", "1.001", "2", "p2", "1.002", "2", "p3"), ("GEOADD", "g", "CH", "1", "2", "p1", "1.5", "2", "p2"),
    ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "1", "2", "BYRADIUS", "100", "km"),
    ("GEORADIUS", "g", "1", "2", "100", "km", "STORE", "gr"), ("GEORADIUSBYMEMBER", "g", "p1", "100", "km", "STOREDIST", "gr"),
    ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "50", "50", "BYRADIUS", "1", "m"),
    ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "50", "50", "BYRADIUS", "1", "m"),
]


def test_zsets_dirty_counter_counts_elements_as_redis(server, oracle):
    def steps(s: Session) -> None:
        for cmd in DIRTY_SEQUENCE:
            before = s.info_field("persistence", "rdb_changes_since_last_save")
            s.call("p", *cmd)
            after = s.info_field("persistence", "rdb_changes_since_last_save")
            s.transcript.append(("dirty", b"%d" % (after - before)))

    transcript = _both(server, oracle, steps)
    assert transcript[1] == ("dirty", b"3")  # the first ZADD of three members


def test_bzmpop_served_later_counts_each_element(server, oracle):
    # The ZADD (5 members) and the waiter's pop of 3 are all counted, as Redis does.
    def steps(s: Session) -> None:
        s.send("c", "BZMPOP", "0", "1", "z", "MIN", "COUNT", "3")
        s.wait_blocked(1)
        before = s.info_field("persistence", "rdb_changes_since_last_save")
        s.call("p", "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
        s.read("c")
        after = s.info_field("persistence", "rdb_changes_since_last_save")
        s.transcript.append(("dirty", b"%d" % (after - before)))

    transcript = _both(server, oracle, steps)
    assert transcript[-1] == ("dirty", b"8")
