"""Differential checking: the same request bytes to respdb and to redis-server, replies compared byte
for byte (so types, error texts and RESP framing must all agree)."""

from __future__ import annotations

from tests.servers import Raw, ServerProcess, resp


class Differ:
    def __init__(self, ours: ServerProcess, theirs: ServerProcess, resp3: bool = False) -> None:
        self.ours = Raw(ours.port)
        self.theirs = Raw(theirs.port)
        if resp3:
            self.both(b"HELLO", b"3", compare=False)
        self.both(b"FLUSHALL")

    def both(self, *args: bytes | str, compare: bool = True) -> tuple[bytes, bytes]:
        req = resp(*args)
        a = self.ours.request(req)
        b = self.theirs.request(req)
        if compare:
            assert a == b, f"{args!r}: respdb {a!r} != redis {b!r}"
        return a, b

    def check(self, *args: bytes | str) -> bytes:
        return self.both(*args)[0]

    def close(self) -> None:
        self.ours.close()
        self.theirs.close()
