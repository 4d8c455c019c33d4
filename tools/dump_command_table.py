"""Capture Redis 7's command table (COMMAND INFO + COMMAND DOCS) from a live redis-server.

The output, `respdb/commands/redis7_commands.json`, is the data behind COMMAND, COMMAND INFO/DOCS and
the arity checks: taking it from the real server means our metadata cannot drift from Redis's.
Usage: python tools/dump_command_table.py PORT
RESP3 types are kept as tagged JSON so both protocols can be re-encoded exactly:
{"%": [[k, v], ...]} map, {"~": [...]} set, {"+": "..."} simple string, str bulk, int integer.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.file = sock.makefile("rb")

    def read(self):
        line = self.file.readline()[:-2]
        kind, rest = chr(line[0]), line[1:]
        if kind == "+":
            return {"+": rest.decode()}
        if kind == "-":
            raise RuntimeError(rest.decode())
        if kind == ":":
            return int(rest)
        if kind in "$=":
            data = self.file.read(int(rest) + 2)[:-2]
            return data.decode()
        if kind == "_":
            return None
        if kind in "*~":
            items = [self.read() for _ in range(int(rest))]
            return items if kind == "*" else {"~": items}
        if kind == "%":
            return {"%": [[self.read(), self.read()] for _ in range(int(rest))]}
        raise RuntimeError(f"unexpected RESP type {kind!r}")


def _command(sock: socket.socket, reader: _Reader, *args: str):
    out = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    sock.sendall(out.encode())
    return reader.read()


def main() -> None:
    port = int(sys.argv[1])
    sock = socket.create_connection(("127.0.0.1", port))
    reader = _Reader(sock)
    _command(sock, reader, "HELLO", "3")
    info = _command(sock, reader, "COMMAND", "INFO")
    docs = _command(sock, reader, "COMMAND", "DOCS")
    table = {}
    for entry in info:
        table[entry[0]] = {"info": entry}
    for name, doc in docs["%"]:
        table.setdefault(name, {})["docs"] = doc
    out = Path(__file__).resolve().parent.parent / "respdb" / "commands" / "redis7_commands.json"
    out.write_text(json.dumps(table, sort_keys=True, separators=(",", ":")))
    print(f"wrote {len(table)} commands to {out}")


if __name__ == "__main__":
    main()
