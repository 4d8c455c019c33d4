"""`respdb-check-cdb`: verify a .cdb snapshot, report what it holds, optionally export it as RESP.

    respdb-check-cdb [--key PASSPHRASE | --key-file PATH] [--export-resp OUT] FILE

Exit status 0 when the file is sound, 1 when it is not (the reason is printed). `--export-resp OUT`
(`-` for stdout) writes every live key as Redis commands — SELECT, SET/HSET/RPUSH/SADD/ZADD/XADD,
stream groups, consumers and pending entries, PEXPIREAT — a stream `redis-cli --pipe` loads into any
Redis 7 server.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

from respdb.persistence import snapshot
from respdb.persistence.aof import encode_command
from respdb.persistence.crypto import read_passphrase

CHUNK = 512  # elements per command when a collection is exported


def _type_name(value: Any) -> str:
    name = value.__class__.__name__
    return {"bytes": "string", "dict": "hash", "QuickList": "list", "set": "set", "ZSet": "zset", "Stream": "stream"}.get(name, name)


def _score(score: float) -> bytes:
    return b"%.17g" % score


def _id(pair: list[int] | tuple[int, int]) -> bytes:
    return b"%d-%d" % (pair[0], pair[1])


def commands_for(key: bytes, value: Any) -> Iterator[list[bytes]]:
    """The commands that rebuild `value` under `key` in Redis."""
    kind = _type_name(value)
    if kind == "string":
        yield [b"SET", key, value]
    elif kind in ("list", "set"):
        items = list(value)
        verb = b"RPUSH" if kind == "list" else b"SADD"
        for i in range(0, len(items), CHUNK):
            yield [verb, key, *items[i : i + CHUNK]]
    elif kind == "hash":
        pairs = [x for kv in value.items() for x in kv]
        for i in range(0, len(pairs), 2 * CHUNK):
            yield [b"HSET", key, *pairs[i : i + 2 * CHUNK]]
    elif kind == "zset":
        pairs = [x for m, s in value.items() for x in (_score(s), m)]
        for i in range(0, len(pairs), 2 * CHUNK):
            yield [b"ZADD", key, *pairs[i : i + 2 * CHUNK]]
    elif kind == "stream":
        yield from _stream_commands(key, value.to_state())


def _stream_commands(key: bytes, state: dict[str, Any]) -> Iterator[list[bytes]]:
    # The same shape Redis's own AOF rewrite uses for streams.
    entries = state["entries"]
    if entries:
        for ms, seq, pairs in entries:
            yield [b"XADD", key, b"%d-%d" % (ms, seq), *pairs]
    else:
        yield [b"XADD", key, b"MAXLEN", b"0", _id(state["last_id"]), b"x", b"y"]
    yield [
        b"XSETID", key, _id(state["last_id"]),
        b"ENTRIESADDED", b"%d" % state["entries_added"],
        b"MAXDELETEDID", _id(state["max_deleted_entry_id"]),
    ]
    for group in state["groups"]:
        name = group["name"]
        yield [b"XGROUP", b"CREATE", key, name, _id(group["last_id"]), b"ENTRIESREAD", b"%d" % group["entries_read"]]
        for consumer in group["consumers"]:
            yield [b"XGROUP", b"CREATECONSUMER", key, name, consumer["name"]]
        for ms, seq, cname, when, count in group["pel"]:
            if cname is None:
                continue
            yield [
                b"XCLAIM", key, name, cname, b"0", b"%d-%d" % (ms, seq),
                b"TIME", b"%d" % when, b"RETRYCOUNT", b"%d" % count, b"JUSTID", b"FORCE",
            ]


def export_resp(loaded: snapshot.Loaded, out: IO[bytes]) -> int:
    """Write the whole dataset as RESP commands; returns how many commands were written."""
    n = 0
    for source in loaded.functions:  # libraries first: nothing in the data depends on them
        out.write(encode_command([b"FUNCTION", b"LOAD", b"REPLACE", source]))
        n += 1
    for dbid in sorted(loaded.dbs):
        data, expires = loaded.dbs[dbid]
        if not data:
            continue
        out.write(encode_command([b"SELECT", b"%d" % dbid]))
        n += 1
        batch = []
        for key, value in data.items():
            for argv in commands_for(key, value):
                batch.append(encode_command(argv))
            when = expires.get(key)
            if when is not None:
                batch.append(encode_command([b"PEXPIREAT", key, b"%d" % when]))
            if len(batch) >= 4096:
                n += len(batch)
                out.write(b"".join(batch))
                batch = []
        n += len(batch)
        out.write(b"".join(batch))
    return n


def report(path: str, loaded: snapshot.Loaded, size: int) -> list[str]:
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(loaded.created_ms / 1000))
    lines = [
        f"[info] {path}: {size} bytes, format version {snapshot.VERSION}, created {created}, "
        f"encrypted: {'yes (AES-256-GCM)' if loaded.encrypted else 'no'}",
    ]
    for dbid in sorted(loaded.dbs):
        data, expires = loaded.dbs[dbid]
        types = Counter(_type_name(v) for v in data.values())
        detail = ", ".join(f"{t} {c}" for t, c in sorted(types.items()))
        lines.append(f"[info] db {dbid}: {len(data)} keys ({detail}), {len(expires)} with an expiry")
    lines.append(f"[info] {loaded.keys_loaded} keys in total, {loaded.keys_expired} already expired (not counted)")
    if loaded.functions:
        lines.append(f"[info] {len(loaded.functions)} function libraries")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="respdb-check-cdb", description="Check a respdb .cdb snapshot file.")
    parser.add_argument("file")
    parser.add_argument("--key", default="", help="passphrase of an encrypted file (cdb-encryption-key)")
    parser.add_argument("--key-file", default="", help="file holding the passphrase (cdb-encryption-key-file)")
    parser.add_argument("--export-resp", metavar="OUT", help="write the data as RESP commands to OUT ('-' = stdout)")
    args = parser.parse_args(argv)
    log = sys.stderr if args.export_resp == "-" else sys.stdout
    print(f"[offset 0] Checking CDB file {args.file}", file=log)
    try:
        phrase = read_passphrase(args.key, args.key_file)
        size = os.path.getsize(args.file)
        loaded = snapshot.read_file(args.file, phrase)
    except (OSError, snapshot.SnapshotError) as exc:
        print(f"[error] {args.file}: {exc}", file=log)
        print("[error] CDB file is NOT sound", file=log)
        return 1
    for line in report(args.file, loaded, size):
        print(line, file=log)
    if args.export_resp:
        try:
            if args.export_resp == "-":
                count = export_resp(loaded, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                with open(args.export_resp, "wb") as f:
                    count = export_resp(loaded, f)
        except OSError as exc:
            print(f"[error] writing {args.export_resp}: {exc}", file=log)
            return 1
        print(f"[info] exported {count} commands to {args.export_resp}", file=log)
    print("[ok] CDB looks OK!", file=log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
