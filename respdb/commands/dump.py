"""DUMP and RESTORE: a key's value as a self-checking payload of respdb's own, and back.

Payload = codec encoding of the value | b"RD" | u16 payload version | 8-byte BLAKE2b of everything
before it. IDLETIME / FREQ set the key's access clock / LFU counter (OBJECT IDLETIME / FREQ). Like Redis's, it carries no key name and no TTL. It is not Redis's RDB encoding, so a payload
moves between respdb servers only; anything else fails the check with Redis's error text.
"""

from __future__ import annotations

import hashlib
import struct

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.registry import command
from respdb.errors import CommandError
from respdb.persistence import codec
from respdb.protocol.types import OK
from respdb.server.client import Client
from respdb.storage.keyspace import LFUCounters, now_ms

PAYLOAD_VERSION = 1
_TRAILER = struct.Struct("<2sH8s")


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


def dump_payload(value: object) -> bytes:
    out: list[bytes] = []
    codec.encode_value(value, out)
    body = b"".join(out) + struct.pack("<2sH", b"RD", PAYLOAD_VERSION)
    return body + _digest(body)


def verify_payload(payload: bytes) -> bool:
    if len(payload) < _TRAILER.size:
        return False
    magic, version, digest = _TRAILER.unpack_from(payload, len(payload) - _TRAILER.size)
    return magic == b"RD" and version == PAYLOAD_VERSION and _digest(payload[:-8]) == digest


def load_payload(payload: bytes) -> object:
    """The value in a verified payload; codec.CorruptData when its content is malformed."""
    reader = codec.Reader(payload, 0, len(payload) - _TRAILER.size)
    value = codec.decode_value(reader)
    if reader.pos != reader.end:
        raise codec.CorruptData("trailing bytes")
    return value


def _set_access(ctx: Client, key: bytes, idletime: int, freq: int) -> None:
    """objectSetLRUOrLFU: FREQ sets the LFU counter under an LFU policy, IDLETIME backdates the LRU
    clock otherwise; the option that does not apply to the current policy is ignored, as in Redis."""
    if idletime < 0 and freq < 0:
        return
    ctx.keyspace.enable_tracking()
    access = ctx.db.access
    if isinstance(access, LFUCounters):
        if freq >= 0:
            # dict.__setitem__: store the counter as given, without LFUCounters' touch arithmetic.
            dict.__setitem__(access, key, (((now_ms() // 60000) & 0xFFFF) << 8) | freq)
    elif idletime >= 0:
        access[key] = now_ms() - idletime * 1000


@command("dump")
def dump(ctx: Client, key: bytes) -> bytes | None:
    value = ctx.db.get(key)
    return None if value is None else dump_payload(value)


@command("restore")
def restore(ctx: Client, key: bytes, ttl_raw: bytes, payload: bytes, *opts: bytes) -> object:
    replace = absttl = False
    idletime = freq = -1
    i = 0
    # Option parsing, key check, TTL check, payload check: the order restoreCommand uses, so each
    # mistake gets the same error as in Redis.
    while i < len(opts):
        opt = opts[i].lower()
        more = len(opts) - i - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq == -1:
            idletime = to_int(opts[i + 1])
            if idletime < 0:
                raise CommandError(errors.INVALID_IDLETIME)
            i += 1
        elif opt == b"freq" and more >= 1 and idletime == -1:
            freq = to_int(opts[i + 1])
            if not 0 <= freq <= 255:
                raise CommandError(errors.INVALID_FREQ)
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    db = ctx.db
    if not replace and db.get(key) is not None:
        raise CommandError(errors.BUSYKEY)
    ttl = to_int(ttl_raw)
    if ttl < 0:
        raise CommandError(errors.INVALID_TTL)
    if not verify_payload(payload):
        raise CommandError(errors.DUMP_PAYLOAD)
    try:
        value = load_payload(payload)
    except codec.CorruptData:
        raise CommandError(errors.BAD_DATA_FORMAT) from None
    deleted = db.delete(key) if replace else False
    when = (ttl if absttl else ttl + now_ms()) if ttl else 0
    if when and when <= now_ms():
        # Already expired: nothing is created; a replaced key is simply gone.
        if deleted:
            ctx.propagate_argv = [b"DEL", key]
            db.changed(key, "g", "del")
        return OK
    db.add(key, value)
    if when:
        db.set_expire(key, when)
        if not absttl:
            # Logged with the absolute time so a replay does not extend the TTL (as Redis does).
            ctx.propagate_argv = [b"RESTORE", key, b"%d" % when, payload, *opts, b"ABSTTL"]
    _set_access(ctx, key, idletime, freq)
    db.changed(key, "g", "restore")
    db.signal_ready(key)
    return OK
