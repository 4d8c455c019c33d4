"""Blocking list pops with several real connections: FIFO service, timeouts, disconnects, databases,
BLMOVE chains, MULTI. Each scenario runs against respdb and redis-server 7.0 and the transcripts of raw
replies must be identical; waits poll INFO blocked_clients with a deadline, never a fixed sleep."""

from __future__ import annotations

import re
import select
import socket
import time

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import Raw, ServerProcess, resp


class Scenario:
    """Named raw connections to one server, and the transcript of every reply read."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.conns: dict[str, Raw] = {}
        self.control = Raw(server.port)
        self.control.request(resp("FLUSHALL"))
        self.transcript: list[tuple[str, bytes]] = []

    def conn(self, name: str) -> Raw:
        if name not in self.conns:
            self.conns[name] = Raw(self.server.port)
        return self.conns[name]

    def call(self, name: str, *args: str, record: bool = True) -> bytes:
        reply = self.conn(name).request(resp(*args))
        if record:  # HELLO and CLIENT ID carry connection ids that differ between servers
            self.transcript.append((name, reply))
        return reply

    def send(self, name: str, *args: str) -> None:
        self.conn(name).send(resp(*args))

    def read(self, name: str, n: int = 1) -> bytes:
        reply = self.conn(name).read_until_count(n)
        self.transcript.append((name, reply))
        return reply

    def blocked(self) -> int:
        info = self.control.request(resp("INFO", "clients")).decode()
        return int(re.search(r"blocked_clients:(\d+)", info).group(1))  # type: ignore[union-attr]

    def wait_blocked(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.blocked() != n:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {n} blocked clients, have {self.blocked()}")
            time.sleep(0.005)

    def close(self, name: str) -> None:
        self.conns.pop(name).close()

    def finish(self) -> list[tuple[str, bytes]]:
        for raw in self.conns.values():
            raw.close()
        self.control.close()
        return self.transcript


def _both(server: ServerProcess, oracle: ServerProcess, steps) -> list[tuple[str, bytes]]:
    """Run `steps(scenario)` on respdb and on redis-server; the transcripts must match."""
    ours, theirs = Scenario(server), Scenario(oracle)
    try:
        steps(ours)
        steps(theirs)
    finally:
        a, b = ours.finish(), theirs.finish()
    assert a == b
    return a


def test_blpop_fifo_order(server, oracle):
    def steps(s: Scenario) -> None:
        for i, name in enumerate(("c1", "c2", "c3")):
            s.send(name, "BLPOP", "k", "0")
            s.wait_blocked(i + 1)
        s.call("p", "RPUSH", "k", "1", "2", "3", "4")
        for name in ("c1", "c2", "c3"):
            s.read(name)
        s.call("p", "LRANGE", "k", "0", "-1")
        s.wait_blocked(0)

    transcript = _both(server, oracle, steps)
    assert transcript[1:4] == [
        ("c1", b"*2\r\n$1\r\nk\r\n$1\r\n1\r\n"),
        ("c2", b"*2\r\n$1\r\nk\r\n$1\r\n2\r\n"),
        ("c3", b"*2\r\n$1\r\nk\r\n$1\r\n3\r\n"),
    ]


def test_brpop_multiple_keys_and_resp3(server, oracle):
    def steps(s: Scenario) -> None:
        s.call("c", "HELLO", "3", record=False)
        s.send("c", "BRPOP", "a", "b", "0")
        s.wait_blocked(1)
        s.call("p", "RPUSH", "b", "x", "y")
        s.read("c")
        s.call("p", "LRANGE", "b", "0", "-1")

    _both(server, oracle, steps)


def test_blpop_served_from_the_key_that_became_ready(server, oracle):
    # Redis serves a waiter from the key signalled first, not from its first non-empty key.
    def steps(s: Scenario) -> None:
        s.send("c", "BLPOP", "a", "b", "0")
        s.wait_blocked(1)
        s.call("p", "MULTI")
        s.call("p", "RPUSH", "b", "from-b")
        s.call("p", "RPUSH", "a", "from-a")
        s.call("p", "EXEC")
        s.read("c")
        s.call("p", "LRANGE", "a", "0", "-1")

    transcript = _both(server, oracle, steps)
    assert transcript[4] == ("c", b"*2\r\n$1\r\nb\r\n$6\r\nfrom-b\r\n")


def test_blpop_timeout_returns_null_and_unblocks(server, oracle):
    def steps(s: Scenario) -> None:
        s.send("c", "BLPOP", "k", "0.05")
        s.read("c")
        s.send("c", "BLMOVE", "k", "d", "LEFT", "LEFT", "0.02")
        s.read("c")
        s.send("c", "BLMPOP", "0.02", "1", "k", "LEFT")
        s.read("c")
        s.call("c", "HELLO", "3", record=False)
        s.send("c", "BRPOPLPUSH", "k", "d", "0.01")
        s.read("c")
        s.wait_blocked(0)

    transcript = _both(server, oracle, steps)
    assert [reply for _, reply in transcript[:3]] == [b"*-1\r\n"] * 3
    assert transcript[-1] == ("c", b"_\r\n")


def test_blpop_zero_waits_until_served(server, oracle):
    def steps(s: Scenario) -> None:
        s.send("c", "BLPOP", "k", "0")
        s.wait_blocked(1)
        s.call("p", "SET", "other", "x")
        s.wait_blocked(1)  # still waiting: timeout 0 means forever
        s.call("p", "LPUSH", "k", "v")
        s.read("c")

    _both(server, oracle, steps)


def test_disconnect_while_blocked_releases_the_client(server, oracle):
    def steps(s: Scenario) -> None:
        s.send("gone", "BLPOP", "k", "0")
        s.send("c", "BLPOP", "k", "0")
        s.wait_blocked(2)
        s.close("gone")
        s.wait_blocked(1)
        s.call("p", "RPUSH", "k", "1", "2")
        s.read("c")
        s.call("p", "LRANGE", "k", "0", "-1")

    transcript = _both(server, oracle, steps)
    assert transcript[-1] == ("p", b"*1\r\n$1\r\n2\r\n")


def test_push_in_another_db_does_not_wake(server, oracle):
    def steps(s: Scenario) -> None:
        s.send("c", "BLPOP", "k", "0")
        s.wait_blocked(1)
        s.call("p", "SELECT", "1")
        s.call("p", "RPUSH", "k", "db1")
        s.wait_blocked(1)
        s.call("p", "LLEN", "k")
        s.call("p", "SELECT", "0")
        s.call("p", "RPUSH", "k", "db0")
        s.read("c")
        s.call("p", "SELECT", "1")
        s.call("p", "LRANGE", "k", "0", "-1")

    _both(server, oracle, steps)


def test_blocked_in_db_other_than_zero(server, oracle):
    def steps(s: Scenario) -> None:
        s.call("c", "SELECT", "3")
        s.send("c", "BRPOP", "k", "0")
        s.wait_blocked(1)
        s.call("p", "SELECT", "3")
        s.call("p", "RPUSH", "k", "x")
        s.read("c")

    _both(server, oracle, steps)


def test_blmove_chain(server, oracle):
    def steps(s: Scenario) -> None:
        s.send("c1", "BLMOVE", "a", "b", "LEFT", "RIGHT", "0")
        s.wait_blocked(1)
        s.send("c2", "BRPOPLPUSH", "b", "c", "0")
        s.wait_blocked(2)
        s.send("c3", "BLPOP", "c", "0")
        s.wait_blocked(3)
        s.call("p", "RPUSH", "a", "hop")
        s.read("c1")
        s.read("c2")
        s.read("c3")
        s.call("p", "EXISTS", "a", "b", "c")

    transcript = _both(server, oracle, steps)
    assert transcript[-2] == ("c3", b"*2\r\n$1\r\nc\r\n$3\r\nhop\r\n")
    assert transcript[-1] == ("p", b":0\r\n")


def test_blmove_wrongtype_destination_unblocks_with_error(server, oracle):
    def steps(s: Scenario) -> None:
        s.send("c", "BLMOVE", "src", "dst", "LEFT", "LEFT", "0")
        s.wait_blocked(1)
        s.call("p", "SET", "dst", "string")
        s.call("p", "RPUSH", "src", "x")
        s.read("c")
        s.call("p", "LRANGE", "src", "0", "-1")

    transcript = _both(server, oracle, steps)
    assert transcript[2][1].startswith(b"-WRONGTYPE")


def test_key_of_another_type_keeps_waiters_blocked(server, oracle):
    def steps(s: Scenario) -> None:
        s.send("c", "BLPOP", "k", "0")
        s.wait_blocked(1)
        s.call("p", "SET", "k", "string")
        s.call("p", "DEL", "k")
        s.wait_blocked(1)
        s.call("p", "RPUSH", "k", "v")
        s.read("c")

    _both(server, oracle, steps)


def test_blmpop_served_with_count(server, oracle):
    def steps(s: Scenario) -> None:
        s.send("c", "BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2")
        s.wait_blocked(1)
        s.call("p", "RPUSH", "b", "1", "2", "3")
        s.read("c")
        s.call("p", "LRANGE", "b", "0", "-1")

    _both(server, oracle, steps)


def test_blocking_commands_inside_multi_do_not_block(server, oracle):
    def steps(s: Scenario) -> None:
        s.call("c", "MULTI")
        for cmd in (("BLPOP", "k", "0"), ("BRPOP", "k", "0"), ("BLMOVE", "k", "d", "LEFT", "LEFT", "0"),
                    ("BRPOPLPUSH", "k", "d", "0"), ("BLMPOP", "0", "1", "k", "LEFT")):
            s.call("c", *cmd)
        s.call("c", "EXEC")
        s.call("c", "HELLO", "3", record=False)
        s.call("c", "MULTI")
        s.call("c", "BLPOP", "k", "0")
        s.call("c", "BLMOVE", "k", "d", "LEFT", "LEFT", "0")
        s.call("c", "EXEC")

    transcript = _both(server, oracle, steps)
    assert transcript[6] == ("c", b"*5\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n")


def test_pipelined_commands_wait_for_the_blocked_one(server, oracle):
    def steps(s: Scenario) -> None:
        s.conn("c").send(resp("BLPOP", "k", "0") + resp("PING") + resp("LLEN", "k"))
        s.wait_blocked(1)
        s.call("p", "RPUSH", "k", "a", "b")
        s.read("c", 3)

    transcript = _both(server, oracle, steps)
    assert transcript[-1] == ("c", b"*2\r\n$1\r\nk\r\n$1\r\na\r\n+PONG\r\n:1\r\n")


def test_client_unblock_gives_the_timeout_reply(server, oracle):
    def steps(s: Scenario) -> None:
        client_id = s.call("c", "CLIENT", "ID", record=False)[1:-2].decode()
        s.send("c", "BLMOVE", "k", "d", "LEFT", "LEFT", "0")
        s.wait_blocked(1)
        s.call("p", "CLIENT", "UNBLOCK", client_id)
        s.read("c")
        s.send("c", "BLPOP", "k", "0")
        s.wait_blocked(1)
        s.call("p", "CLIENT", "UNBLOCK", client_id, "ERROR")
        s.read("c")

    _both(server, oracle, steps)


@pytest.mark.parametrize(
    "producer",
    [
        [("SELECT", "1"), ("RPUSH", "k", "x"), ("SWAPDB", "0", "1")],
        [("RPUSH", "src", "x"), ("RENAME", "src", "k")],
        [("SELECT", "1"), ("RPUSH", "k", "x"), ("MOVE", "k", "0")],
        [("RPUSH", "src", "x", "y"), ("COPY", "src", "k")],
        [("RPUSH", "k2", "x"), ("FLUSHALL",), ("RPUSH", "k", "after-flush")],
        [("SADD", "s", "b", "a"), ("SORT", "s", "ALPHA", "STORE", "k")],
    ],
    ids=["swapdb", "rename", "move", "copy", "flushall", "sort-store"],
)
def test_other_writers_wake_list_waiters(server, oracle, producer):
    def steps(s: Scenario) -> None:
        s.send("c", "BLPOP", "k", "0")
        s.wait_blocked(1)
        for cmd in producer:
            s.call("p", *cmd)
        s.read("c")
        s.wait_blocked(0)

    _both(server, oracle, steps)


def test_fractional_timeout_eventually_expires(server):
    s = Scenario(server)
    try:
        s.conn("c").sock.settimeout(10)
        s.send("c", "BRPOP", "k", "0.3")
        assert s.read("c") == b"*-1\r\n"
        assert s.blocked() == 0
    finally:
        s.finish()


def test_blocked_client_survives_many_other_writes(server):
    s = Scenario(server)
    try:
        s.send("c", "BLPOP", "k", "0")
        s.wait_blocked(1)
        for i in range(200):
            s.call("p", "RPUSH", f"other{i}", "x")
        assert s.blocked() == 1
        s.call("p", "RPUSH", "k", "v")
        assert s.read("c") == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    finally:
        s.finish()


@pytest.mark.parametrize("bad", ["-1", "abc", "inf", "1e30", " 1"])
def test_blpop_bad_timeouts_match_redis(server, oracle, bad):
    def steps(s: Scenario) -> None:
        s.call("c", "BLPOP", "k", bad)
        s.call("c", "BLMPOP", bad, "1", "k", "LEFT")
        s.call("c", "BLMOVE", "k", "d", "LEFT", "LEFT", bad)

    _both(server, oracle, steps)


def test_server_keeps_serving_others_while_clients_block(server):
    s = Scenario(server)
    try:
        for i in range(20):
            s.send(f"c{i}", "BLPOP", f"k{i}", "0")
        s.wait_blocked(20)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(resp("PING"))
            assert sock.recv(16) == b"+PONG\r\n"
        for i in range(20):
            s.call("p", "RPUSH", f"k{i}", str(i))
            assert s.read(f"c{i}") == resp(f"k{i}", str(i))
        s.wait_blocked(0)
    finally:
        s.finish()


# --- randomized: several waiters and a producer, transcripts compared with redis-server ----------
def _read_one(raw: Raw) -> bytes:
    """Exactly one reply's bytes from `raw`, keeping whatever follows in raw.buf for the next read."""
    reader = hiredis.Reader()
    i = 0
    while True:
        while i < len(raw.buf):
            reader.feed(raw.buf[i : i + 1])
            i += 1
            if reader.gets() is not False:
                reply, raw.buf = raw.buf[:i], raw.buf[i:]
                return reply
        chunk = raw.sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed")
        raw.buf += chunk


class Crowd:
    """Named waiter connections plus a producer; knows who is blocked through CLIENT LIST flags."""

    def __init__(self, server: ServerProcess, waiters: int) -> None:
        self.control = Raw(server.port)
        self.control.request(resp("FLUSHALL"))
        self.producer = Raw(server.port)
        self.waiters = [Raw(server.port) for _ in range(waiters)]
        for i, w in enumerate(self.waiters):
            w.request(resp("CLIENT", "SETNAME", f"w{i}"))
        self.transcript: list[tuple[str, bytes]] = []

    def blocked(self) -> set[int]:
        text = self.control.request(resp("CLIENT", "LIST")).split(b"\r\n", 1)[1].decode()
        return {int(m.group(1)) for m in re.finditer(r"name=w(\d+) .*?flags=(\S*b\S*) ", text)}

    def wait(self, i: int, cmd: tuple[str, ...], timeout: float = 10.0) -> None:
        """Send a blocking command from waiter i: record its reply, or that it blocked (poll with a
        deadline), then the replies of waiters this command served (a BLMOVE can feed others)."""
        before = self.blocked()
        raw = self.waiters[i]
        raw.send(resp(*cmd))
        deadline = time.monotonic() + timeout
        while True:
            assert time.monotonic() < deadline, f"waiter {i} neither answered nor blocked"
            if raw.buf or select.select([raw.sock], [], [], 0.005)[0]:
                self.transcript.append((f"w{i}", _read_one(raw)))
                break
            if i in self.blocked():
                self.transcript.append((f"w{i}", b"<blocked>"))
                break
        self._served(before - {i})

    def produce(self, commands: list[tuple[str, ...]]) -> None:
        before = self.blocked()
        for cmd in commands:
            self.transcript.append(("p", _read_one_after(self.producer, cmd)))
        self._served(before)

    def _served(self, before: set[int]) -> None:
        # Redis serves waiters before it answers the command that fed them, so who is still blocked
        # is settled by the time that command's reply has been read.
        for j in sorted(before - self.blocked()):
            self.transcript.append((f"w{j}", _read_one(self.waiters[j])))

    def close(self) -> list[tuple[str, bytes]]:
        for raw in [self.control, self.producer, *self.waiters]:
            raw.close()
        return self.transcript


def _read_one_after(raw: Raw, cmd: tuple[str, ...]) -> bytes:
    raw.send(resp(*cmd))
    return _read_one(raw)


KEY = st.sampled_from(["a", "b", "c"])
WAIT = st.one_of(
    st.tuples(st.sampled_from(["BLPOP", "BRPOP"]), KEY, KEY).map(lambda t: (*t, "0")),
    st.tuples(st.just("BLMOVE"), KEY, KEY, st.sampled_from(["LEFT", "RIGHT"]), st.sampled_from(["LEFT", "RIGHT"])).map(lambda t: (*t, "0")),
    st.tuples(st.just("BRPOPLPUSH"), KEY, KEY).map(lambda t: (*t, "0")),
    st.tuples(st.just("BLMPOP"), st.just("0"), st.just("2"), KEY, KEY, st.sampled_from(["LEFT", "RIGHT"]), st.just("COUNT"), st.sampled_from(["1", "2", "5"])),
)
PUSH = st.one_of(
    st.tuples(st.sampled_from(["RPUSH", "LPUSH"]), KEY, st.lists(st.sampled_from(["1", "2", "3"]), min_size=1, max_size=3)).map(lambda t: [(t[0], t[1], *t[2])]),
    st.lists(st.tuples(st.just("RPUSH"), KEY, st.sampled_from(["x", "y"])), min_size=1, max_size=3).map(lambda cmds: [("MULTI",), *cmds, ("EXEC",)]),
    st.tuples(st.just("LMOVE"), KEY, KEY, st.just("LEFT"), st.just("RIGHT")).map(lambda t: [t]),
    st.tuples(KEY).map(lambda t: [("SELECT", "1"), ("RPUSH", t[0], "db1"), ("SELECT", "0")]),
    st.tuples(KEY).map(lambda t: [("DEL", t[0])]),
)
ACTION = st.one_of(st.tuples(st.just("wait"), st.integers(0, 3), WAIT), st.tuples(st.just("push"), PUSH))


def _crowd_run(server: ServerProcess, actions: list) -> list[tuple[str, bytes]]:
    crowd = Crowd(server, 4)
    try:
        for kind, *rest in actions:
            if kind == "wait":
                i, cmd = rest
                if i in crowd.blocked():
                    continue
                crowd.wait(i, cmd)
            else:
                crowd.produce(rest[0])
        crowd.produce([("RPUSH", k, *["end"] * 8) for k in ("a", "b", "c")])
        for k in ("a", "b", "c"):
            crowd.produce([("LRANGE", k, "0", "-1")])
    finally:
        transcript = crowd.close()
    return transcript


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(actions=st.lists(ACTION, min_size=1, max_size=14))
def test_random_waiters_and_pushes_match_redis(server, oracle, actions):
    assert _crowd_run(server, actions) == _crowd_run(oracle, actions)


@pytest.mark.parametrize("target", ["respdb", "redis"])
def test_no_element_lost_or_duplicated_under_many_waiters(server, oracle, target):
    """50 clients loop on BLPOP/BRPOP/BLMPOP with short timeouts while a producer pushes 3000 elements:
    every element is delivered exactly once (to a waiter or left in a list). Run on redis-server too,
    which shows the check itself is sound."""
    server = server if target == "respdb" else oracle
    waiters = [Raw(server.port) for _ in range(50)]
    readers = [hiredis.Reader() for _ in waiters]
    producer = Raw(server.port)
    producer.request(resp("FLUSHALL"))
    keys = ["q0", "q1", "q2"]
    commands = [("BLPOP", *keys, "0.05"), ("BRPOP", "q2", "q1", "0.02"), ("BLMPOP", "0.03", "3", *keys, "LEFT", "COUNT", "3")]
    for i, w in enumerate(waiters):
        w.send(resp(*commands[i % 3]))
    received: list[bytes] = []
    active = set(range(len(waiters)))
    pushed = 0
    deadline = time.monotonic() + 60
    while active:
        assert time.monotonic() < deadline, "waiters did not finish"
        if pushed < 3000:
            producer.request(resp("RPUSH", keys[pushed % 3], *[f"e{pushed + j}" for j in range(10)]))
            pushed += 10
        readable, _, _ = select.select([waiters[i].sock for i in active], [], [], 0.01)
        for i in list(active):
            if waiters[i].sock not in readable:
                continue
            readers[i].feed(waiters[i].sock.recv(65536))
            while (reply := readers[i].gets()) is not False:
                if reply is not None:  # a timeout; otherwise [key, element] or [key, [elements]]
                    received.extend(reply[1] if isinstance(reply[1], list) else [reply[1]])
                if pushed < 3000:
                    waiters[i].send(resp(*commands[i % 3]))
                else:
                    active.discard(i)
    for w in waiters:
        w.close()
    left = [e for key in keys for e in re.findall(rb"e\d+", producer.request(resp("LRANGE", key, "0", "-1")))]
    producer.close()
    assert sorted(received + left) == sorted(f"e{i}".encode() for i in range(3000))
    assert received
