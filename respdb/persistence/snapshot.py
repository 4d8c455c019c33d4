"""The .cdb snapshot: build it from the databases, write it durably, parse and load it back.

Layout (little-endian; docs/persistence.md is the full, versioned specification):

    header   magic "RESPDCDB" | u16 version | u8 flags (1 = encrypted) | u8 0 | u64 created ms | u64 body length
    [key]    only when encrypted: crypto.KEY_HEADER (scrypt log2 N, r, p, salt, key check)
    body     plain: the sections below;  encrypted: nonce | AES-256-GCM(sections) | tag, header as AAD
    trailer  plain only: SHA-256 of header + body (the GCM tag plays this role when encrypted)

    0x10 functions  u64 n | u8 wide | source lengths | sources   (only when libraries are loaded)
    sections per non-empty database:  0xFE u32 db
      0x01 strings  u64 n | u8 wide | u8 wide | key lengths | keys | value lengths | values
      0x02 values   u64 n | u8 wide | key lengths | keys | n values (codec.encode_value)
      0x03 expires  u64 n | u8 wide | key lengths | keys | n x i64 absolute unix ms
    0xFF end of data

Strings — almost all keys in most datasets — are stored as columns so both directions run at C speed.
Keys already expired are neither written nor loaded, as Redis does.
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

from respdb.persistence import codec
from respdb.persistence.codec import CorruptData, Reader
from respdb.persistence.crypto import KEY_HEADER, AuthError, Sealer, sealer_for

MAGIC = b"RESPDCDB"
VERSION = 1
F_ENCRYPTED = 1
HEADER = struct.Struct("<8sHBBQQ")
DIGEST_LEN = 32
OP_STRINGS, OP_VALUES, OP_EXPIRES, OP_DB, OP_EOF = 0x01, 0x02, 0x03, 0xFE, 0xFF
OP_FUNCTIONS = 0x10  # function library sources (FUNCTION LOAD), once, before the databases
_SECTION = struct.Struct("<BQB")
_STRINGS = struct.Struct("<BQBB")
_DB = struct.Struct("<BI")


class SnapshotError(ValueError):
    """The file cannot be used; the message says why (corrupt, truncated, wrong key...)."""


@dataclass
class Loaded:
    """A parsed snapshot: per database id, its data and expiry dicts."""

    dbs: dict[int, tuple[dict[bytes, Any], dict[bytes, int]]] = field(default_factory=dict)
    created_ms: int = 0
    encrypted: bool = False
    key_header: bytes = b""
    keys_loaded: int = 0
    keys_expired: int = 0
    end: int = 0  # offset just past the snapshot in the buffer it was parsed from
    functions: list[bytes] = field(default_factory=list)  # FUNCTION library sources


# --- writing --------------------------------------------------------------------------------------
def build_body(dbs: list[Any], now: int, functions: list[bytes] | tuple[()] = ()) -> bytes:
    """The section stream: function libraries, then all databases (each needs `.id`, `.data`, `.expires`)."""
    out: list[bytes] = []
    if functions:
        part: list[bytes] = []
        width = codec.pack_blobs(list(functions), part)
        out.append(_SECTION.pack(OP_FUNCTIONS, len(functions), width))
        out += part
    for db in dbs:
        data, expires = db.data, db.expires
        if not data:
            continue
        dead = {k for k, when in expires.items() if when <= now} if expires else set()
        skeys: list[bytes] = []
        svals: list[bytes] = []
        okeys: list[bytes] = []
        ovals: list[Any] = []
        for k, v in data.items():
            if v.__class__ is bytes:
                skeys.append(k)
                svals.append(v)
            else:
                okeys.append(k)
                ovals.append(v)
        if dead:
            keep = [i for i, k in enumerate(skeys) if k not in dead]
            skeys = [skeys[i] for i in keep]
            svals = [svals[i] for i in keep]
            keep = [i for i, k in enumerate(okeys) if k not in dead]
            okeys = [okeys[i] for i in keep]
            ovals = [ovals[i] for i in keep]
        if not skeys and not okeys:
            continue
        out.append(_DB.pack(OP_DB, db.id))
        if skeys:
            kpart: list[bytes] = []
            vpart: list[bytes] = []
            kw = codec.pack_blobs(skeys, kpart)
            vw = codec.pack_blobs(svals, vpart)
            out.append(_STRINGS.pack(OP_STRINGS, len(skeys), kw, vw))
            out += kpart
            out += vpart
        if okeys:
            part: list[bytes] = []
            kw = codec.pack_blobs(okeys, part)
            out.append(_SECTION.pack(OP_VALUES, len(okeys), kw))
            out += part
            for v in ovals:
                codec.encode_value(v, out)
        live = [(k, w) for k, w in expires.items() if k not in dead] if expires else []
        if live:
            part = []
            kw = codec.pack_blobs([k for k, _ in live], part)
            whens = array("q", [w for _, w in live])
            if codec._BIG:
                whens.byteswap()
            out.append(_SECTION.pack(OP_EXPIRES, len(live), kw))
            out += part
            out.append(whens.tobytes())
    out.append(bytes([OP_EOF]))
    return b"".join(out)


def build(dbs: list[Any], sealer: Sealer | None, now: int | None = None, functions: list[bytes] | tuple[()] = ()) -> bytes:
    """The whole file content."""
    now = now if now is not None else int(time.time() * 1000)
    body = build_body(dbs, now, functions)
    if sealer is None:
        header = HEADER.pack(MAGIC, VERSION, 0, 0, now, len(body))
        return b"".join((header, body, hashlib.sha256(header + body).digest()))
    sealed_len = len(body) + 12 + 16
    header = HEADER.pack(MAGIC, VERSION, F_ENCRYPTED, 0, now, sealed_len) + sealer.header
    return header + sealer.seal(body, header)


def write_atomic(path: str, chunks: list[bytes] | bytes) -> None:
    """temp file in the same directory → write → fsync → rename over `path` → fsync the directory.
    A crash at any point leaves either the old file or the new one, never a mix."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f"temp-{os.getpid()}.{os.path.basename(path)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(directory)


def fsync_dir(directory: str) -> None:
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


# --- reading --------------------------------------------------------------------------------------
class LoadProgress:
    """Progress lines while a data file loads.

    The loader compares its position with `next_at` and calls `report` once it is reached, every
    `interval` bytes (loading-process-events-interval-bytes: the pace at which Redis updates its
    loading statistics). Each report writes one line: at notice level when a second or more has
    passed since the last notice line, so an operator sees a large load advance about once a second,
    and at verbose level otherwise, so `loglevel verbose` shows every step.
    """

    def __init__(self, log: Any, what: str, interval: int) -> None:
        self.log = log
        self.what = what
        self.interval = max(1, interval)
        self.start = self.last_notice = time.monotonic()
        self.next_at = self.interval

    def report(self, done: int, total: int, keys: int) -> None:
        self.next_at = (done // self.interval + 1) * self.interval
        now = time.monotonic()
        line = (
            f"Loading {self.what}: {done * 100 / max(1, total):.2f}% ({done} of {total} bytes, {keys} keys) "
            f"after {now - self.start:.3f} seconds"
        )
        if now - self.last_notice >= 1.0:
            self.last_notice = now
            self.log.notice(line)
        else:
            self.log.verbose(line)


def is_snapshot(buf: bytes, pos: int = 0) -> bool:
    return buf[pos : pos + len(MAGIC)] == MAGIC


def parse(
    buf: bytes,
    passphrase: bytes | None,
    now: int | None = None,
    pos: int = 0,
    skip_expired: bool = True,
    progress: LoadProgress | None = None,
) -> Loaded:
    """Verify and decode a snapshot starting at `pos`. Raises SnapshotError with the reason.
    `progress` hears how far decoding got, in bytes of the (decrypted) body."""
    if len(buf) - pos < HEADER.size:
        raise SnapshotError("file too short to hold a header (truncated?)" if buf[pos:] else "empty file")
    magic, version, flags, _, created, body_len = HEADER.unpack_from(buf, pos)
    if magic != MAGIC:
        raise SnapshotError("not a respdb .cdb file (wrong magic)")
    if version != VERSION:
        raise SnapshotError(f"unsupported .cdb format version {version} (this respdb reads version {VERSION})")
    loaded = Loaded(created_ms=created, encrypted=bool(flags & F_ENCRYPTED))
    head_end = pos + HEADER.size
    if flags & F_ENCRYPTED:
        head_end += KEY_HEADER.size
        if len(buf) < head_end:
            raise SnapshotError("file truncated in the header")
        loaded.key_header = buf[head_end - KEY_HEADER.size : head_end]
        end = head_end + body_len
        if len(buf) < end:
            raise SnapshotError("file truncated (shorter than its header says)")
        from respdb.persistence.crypto import KeyError_

        try:
            sealer = sealer_for(loaded.key_header, passphrase)
            body = sealer.open(buf[head_end:end], buf[pos:head_end])
        except KeyError_ as exc:
            raise SnapshotError(str(exc)) from None
        except AuthError:
            raise SnapshotError("checksum mismatch: the encrypted data was modified or truncated") from None
    else:
        end = head_end + body_len + DIGEST_LEN
        if len(buf) < end:
            raise SnapshotError("file truncated (shorter than its header says)")
        body = buf[head_end : head_end + body_len]
        digest = hashlib.sha256(memoryview(buf)[pos : head_end + body_len]).digest()
        if digest != buf[end - DIGEST_LEN : end]:
            raise SnapshotError("checksum mismatch: the file is corrupt")
    loaded.end = end
    try:
        _parse_body(body, loaded, int(time.time() * 1000) if now is None else now, skip_expired, progress)
    except (CorruptData, ValueError, OverflowError, TypeError, IndexError, MemoryError) as exc:
        raise SnapshotError(f"invalid content despite a valid checksum: {exc}") from None
    return loaded


def _parse_body(body: bytes, loaded: Loaded, now: int, skip_expired: bool, progress: LoadProgress | None) -> None:
    r = Reader(body)
    total = len(body)
    data: dict[bytes, Any] | None = None
    expires: dict[bytes, int] = {}
    while True:
        if progress is not None and r.pos >= progress.next_at:
            progress.report(r.pos, total, _keys_so_far(loaded))
        op = r.u8()
        if op == OP_EOF:
            break
        if op == OP_FUNCTIONS:
            if loaded.functions or data is not None:
                raise CorruptData("function libraries out of place")
            n = r.count(5)
            loaded.functions = r.blobs(n, bool(r.u8()))
            continue
        if op == OP_DB:
            (dbid,) = struct.unpack("<I", r.take(4))
            if dbid in loaded.dbs:
                raise CorruptData(f"database {dbid} appears twice")
            data, expires = {}, {}
            loaded.dbs[dbid] = (data, expires)
            continue
        if data is None:
            raise CorruptData("data before any database marker")
        if op == OP_STRINGS:
            n = r.count(8)
            kw, vw = r.u8(), r.u8()
            keys = r.blobs(n, bool(kw))
            values = r.blobs(n, bool(vw))
            before = len(data)
            data.update(zip(keys, values, strict=True))
        elif op == OP_VALUES:
            n = r.count(5)
            kw = r.u8()
            keys = r.blobs(n, bool(kw))
            before = len(data)
            if progress is None:
                for k in keys:
                    data[k] = codec.decode_value(r)
            else:
                for k in keys:  # values decode in Python: the long part of a load, so report inside it
                    data[k] = codec.decode_value(r)
                    if r.pos >= progress.next_at:
                        progress.report(r.pos, total, _keys_so_far(loaded))
        elif op == OP_EXPIRES:
            n = r.count(12)
            kw = r.u8()
            keys = r.blobs(n, bool(kw))
            whens = array("q")
            whens.frombytes(r.take(8 * n))
            if codec._BIG:
                whens.byteswap()
            before = len(expires)
            expires.update(zip(keys, whens, strict=True))
            if len(expires) != before + n or any(k not in data for k in keys):
                raise CorruptData("expiry for a missing or repeated key")
            continue
        else:
            raise CorruptData(f"unknown section opcode {op:#x}")
        if len(data) != before + n:
            raise CorruptData("duplicate key")
    if r.pos != r.end:
        raise CorruptData("bytes after the end-of-data marker")
    for data, expires in loaded.dbs.values():
        if skip_expired and expires:
            dead = [k for k, when in expires.items() if when <= now]
            for k in dead:
                del data[k]
                del expires[k]
            loaded.keys_expired += len(dead)
        loaded.keys_loaded += len(data)


def _keys_so_far(loaded: Loaded) -> int:
    return sum(len(data) for data, _ in loaded.dbs.values())


def read_file(path: str, passphrase: bytes | None, now: int | None = None, progress: LoadProgress | None = None) -> Loaded:
    """Parse a .cdb file; SnapshotError names the problem, OSError when it cannot be read."""
    with open(path, "rb") as f:
        buf = f.read()
    loaded = parse(buf, passphrase, now, progress=progress)
    if loaded.end != len(buf):
        raise SnapshotError(f"{len(buf) - loaded.end} unexpected bytes after the end of the snapshot")
    return loaded


def install_into(keyspace: Any, loaded: Loaded) -> None:
    """Replace the contents of the keyspace's databases with a parsed snapshot."""
    for dbid in loaded.dbs:
        if dbid >= len(keyspace.dbs):
            raise SnapshotError(f"the file holds database {dbid} but 'databases' is {len(keyspace.dbs)}")
    for db in keyspace.dbs:
        db.flush()
    for dbid, (data, expires) in loaded.dbs.items():
        db = keyspace.dbs[dbid]
        db.data = data
        db.expires = expires
        db._rebuild_heap()
