"""Bitmap commands on string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

Strings are immutable `bytes`, so a write builds the new value and stores it (keeping the TTL, as Redis
edits in place). Bit 0 is the most significant bit of byte 0, so a byte run read with
`int.from_bytes(..., "big")` has the bits in Redis's order and popcount/search run in C.
Argument checks follow Redis 7.0's order exactly: BITCOUNT and BITPOS look at the key before parsing the
range (a missing key answers 0 / -1 whatever the range says), BITFIELD parses every operation first.
"""

from __future__ import annotations

from typing import Any

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.encoding_history import RAW, record
from respdb.commands.registry import command
from respdb.errors import CommandError
from respdb.server.client import Client

_MASK64 = 2**64 - 1
_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2
_OVERFLOW = {b"wrap": _WRAP, b"sat": _SAT, b"fail": _FAIL}
_WINDOW_BITS = 8 * 65536  # BITPOS scan window


def _wrap64(value: int) -> int:
    """C signed 64-bit arithmetic: Redis's overflow checks rely on it wrapping."""
    return ((value + 2**63) & _MASK64) - 2**63


def _bit_offset(ctx: Client, raw: bytes, bits: int = 0) -> int:
    """A bit offset (`#n` means n*bits for BITFIELD), limited to proto-max-bulk-len bytes."""
    use_hash = bits > 0 and raw[:1] == b"#"
    offset = to_int(raw[1:] if use_hash else raw, errors.BIT_OFFSET)
    if use_hash:
        offset = _wrap64(offset * bits)
    if offset < 0 or (offset >> 3) >= ctx.server.config.proto_max_bulk_len:
        raise CommandError(errors.BIT_OFFSET)
    return offset


def _string(ctx: Client, key: bytes) -> bytes | None:
    return ctx.db.get_string(key)


def _string_for_write(ctx: Client, key: bytes) -> bytes | None:
    value = ctx.db.lookup_write(key)  # lookupKeyWrite: no keyspace hit or miss
    if value is not None and value.__class__ is not bytes:
        raise CommandError(errors.WRONGTYPE)
    return value


def _store(ctx: Client, key: bytes, value: bytes, existed: bool) -> None:
    db = ctx.db
    if existed:
        db.set(key, value, keep_ttl=True)
    else:
        db.add(key, value)
    record(db, key, value, RAW)  # edited in place: Redis leaves a raw string whatever its length


# --- SETBIT / GETBIT ---------------------------------------------------------------------------
@command("setbit")
def setbit(ctx: Client, key: bytes, offset: bytes, bit: bytes) -> int:
    off = _bit_offset(ctx, offset)
    on = to_int(bit, errors.BIT_VALUE)
    if on & ~1:
        raise CommandError(errors.BIT_VALUE)
    old = _string(ctx, key)
    value = old if old is not None else b""
    byte = off >> 3
    grown = len(value) <= byte
    if grown:
        value += bytes(byte + 1 - len(value))
    shift = 7 - (off & 7)
    current = value[byte]
    updated = (current & ~(1 << shift)) | (on << shift)
    if updated != current:
        # One copy into the new string (slicing bytes would copy both halves first).
        view = memoryview(value)
        value = b"".join((view[:byte], bytes((updated,)), view[byte + 1 :]))
    elif old is not None and not grown:
        # Redis 7.0 skips the write (no dirty count, event or WATCH touch) when the bit already had
        # the value and the string neither was created nor grew; it still unshares it (raw).
        record(ctx.db, key, value, RAW)
        return (current >> shift) & 1
    _store(ctx, key, value, old is not None)
    ctx.db.changed(key, "$", "setbit")
    return (current >> shift) & 1


@command("getbit")
def getbit(ctx: Client, key: bytes, offset: bytes) -> int:
    off = _bit_offset(ctx, offset)
    value = _string(ctx, key)
    byte = off >> 3
    if value is None or byte >= len(value):
        return 0
    return (value[byte] >> (7 - (off & 7))) & 1


# --- ranges ------------------------------------------------------------------------------------
def _unit_is_bit(raw: bytes) -> bool:
    low = raw.lower()
    if low == b"bit":
        return True
    if low == b"byte":
        return False
    raise CommandError(errors.SYNTAX)


def _clamp(start: int, end: int, total: int) -> tuple[int, int]:
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = max(end, 0)
    if end >= total:
        end = total - 1
    return start, end


def _bits(value: bytes, first_bit: int, last_bit: int) -> tuple[int, int]:
    """Bits first_bit..last_bit (inclusive) as an int with last_bit as its lowest bit, and the width."""
    chunk = value[first_bit >> 3 : (last_bit >> 3) + 1]
    width = last_bit - first_bit + 1
    num = int.from_bytes(chunk, "big") >> (7 - (last_bit & 7))
    return num & ((1 << width) - 1), width


def _find_bit(value: bytes, wanted: int, first: int, last: int) -> int:
    """Position of the first bit equal to `wanted` in first..last (inclusive), or -1.

    Scanned in 64 KiB windows, so a hit near the start of a huge string returns at once while a
    full scan still runs at int.from_bytes speed.
    """
    start = first
    while start <= last:
        end = min(last, start + _WINDOW_BITS - 1)
        num, width = _bits(value, start, end)
        if not wanted:
            num ^= (1 << width) - 1
        if num:
            return start + width - num.bit_length()
        start = end + 1
    return -1


@command("bitcount")
def bitcount(ctx: Client, key: bytes, *args: bytes) -> int:
    value = _string(ctx, key)
    if value is None:
        return 0
    if not args:
        return int.from_bytes(value, "little").bit_count()  # byte order is irrelevant to a popcount; little is faster
    if len(args) not in (2, 3):
        raise CommandError(errors.SYNTAX)
    start, end = to_int(args[0]), to_int(args[1])
    if start < 0 and end < 0 and start > end:
        return 0
    is_bit = len(args) == 3 and _unit_is_bit(args[2])
    start, end = _clamp(start, end, len(value) * 8 if is_bit else len(value))
    if start > end:
        return 0
    if is_bit:
        return _bits(value, start, end)[0].bit_count()
    return int.from_bytes(value[start : end + 1], "little").bit_count()


@command("bitpos")
def bitpos(ctx: Client, key: bytes, bit: bytes, *args: bytes) -> int:
    wanted = to_int(bit)
    if wanted not in (0, 1):
        raise CommandError(errors.BIT_ARG)
    value = _string(ctx, key)
    if value is None:
        return -1 if wanted else 0  # a missing key is an endless run of zero bits
    n = len(value)
    end_given = False
    if not args:
        first, last = 0, n * 8 - 1
    elif len(args) <= 3:
        start = to_int(args[0])
        is_bit = len(args) == 3 and _unit_is_bit(args[2])  # Redis reads the unit before the end
        if len(args) >= 2:
            end = to_int(args[1])
            end_given = True
        else:
            end = n * 8 + 7 if is_bit else n - 1
        start, end = _clamp(start, end, n * 8 if is_bit else n)
        if start > end:
            return -1
        first, last = (start, end) if is_bit else (start * 8, end * 8 + 7)
    else:
        raise CommandError(errors.SYNTAX)
    if first > last:
        return -1
    pos = _find_bit(value, wanted, first, last)
    if pos >= 0:
        return pos
    if wanted or end_given:
        return -1
    # Looking for a clear bit with no end given: the string continues with zeros past its end.
    return last + 1


# --- BITOP -------------------------------------------------------------------------------------
@command("bitop")
def bitop(ctx: Client, operation: bytes, dest: bytes, *keys: bytes) -> int:
    op = operation.lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        raise CommandError(errors.SYNTAX)
    if op == b"not" and len(keys) != 1:
        raise CommandError(errors.BITOP_NOT_ONE_KEY)
    values = [_string(ctx, key) or b"" for key in keys]
    size = max(len(v) for v in values)
    db = ctx.db
    if size == 0:
        if db.delete(dest):
            db.changed(dest, "g", "del")
        return 0
    # Shorter strings are zero-padded at the end, i.e. shifted up in big-endian integer terms.
    nums = [int.from_bytes(v, "big") << (8 * (size - len(v))) for v in values]
    result = nums[0]
    if op == b"not":
        result ^= (1 << (8 * size)) - 1
    elif op == b"and":
        for num in nums[1:]:
            result &= num
    elif op == b"or":
        for num in nums[1:]:
            result |= num
    else:
        for num in nums[1:]:
            result ^= num
    stored = result.to_bytes(size, "big")
    if db.lookup_write(dest) is None:
        db.add(dest, stored)
    else:
        db.set(dest, stored)
    record(db, dest, stored, RAW)  # Redis stores an sds-backed (raw) object, never embstr/int
    db.changed(dest, "$", "set")
    return size


# --- BITFIELD ----------------------------------------------------------------------------------
def _field_type(raw: bytes) -> tuple[bool, int]:
    """`i<bits>` (1..64) or `u<bits>` (1..63) → (signed, bits). Lower case only, as in Redis."""
    sign = raw[:1]
    if sign not in (b"i", b"u"):
        raise CommandError(errors.BITFIELD_TYPE)
    bits = to_int(raw[1:], errors.BITFIELD_TYPE)
    if bits < 1 or bits > (64 if sign == b"i" else 63):
        raise CommandError(errors.BITFIELD_TYPE)
    return sign == b"i", bits


def _get_field(buf: bytes | bytearray, offset: int, bits: int, signed: bool) -> int:
    first, last = offset >> 3, (offset + bits - 1) >> 3
    chunk = bytes(buf[first : last + 1])
    if len(chunk) < last - first + 1:
        chunk += bytes(last - first + 1 - len(chunk))  # past the end reads as zeros
    num = (int.from_bytes(chunk, "big") >> ((last + 1) * 8 - offset - bits)) & ((1 << bits) - 1)
    if signed and num >> (bits - 1):
        num -= 1 << bits
    return num


def _set_field(buf: bytearray, offset: int, bits: int, value: int) -> None:
    first, last = offset >> 3, (offset + bits - 1) >> 3
    shift = (last + 1) * 8 - offset - bits
    mask = ((1 << bits) - 1) << shift
    num = int.from_bytes(buf[first : last + 1], "big")
    num = (num & ~mask) | ((value << shift) & mask)
    buf[first : last + 1] = num.to_bytes(last - first + 1, "big")


def _unsigned_overflow(value: int, incr: int, bits: int, owtype: int) -> tuple[int, int]:
    """Redis's checkUnsignedBitfieldOverflow: (overflow direction, wrapped/saturated value)."""
    top = (1 << bits) - 1
    max_incr = _wrap64(top - value)
    min_incr = _wrap64(-value)
    if value > top or (incr > 0 and incr > max_incr):
        return 1, (top if owtype == _SAT else (value + incr) & top)
    if incr < 0 and incr < min_incr:
        return -1, (0 if owtype == _SAT else (value + incr) & top)
    return 0, 0


def _signed_overflow(value: int, incr: int, bits: int, owtype: int) -> tuple[int, int]:
    """Redis's checkSignedBitfieldOverflow, including its int64 wrap-around in the increment limits."""
    top = (1 << (bits - 1)) - 1
    bottom = -top - 1
    max_incr = _wrap64(top - value)
    min_incr = _wrap64(bottom - value)
    low = (value + incr) & ((1 << bits) - 1)
    wrapped = low - (1 << bits) if low >> (bits - 1) else low
    if value > top or (bits != 64 and incr > max_incr) or (value >= 0 and incr > 0 and incr > max_incr):
        return 1, (top if owtype == _SAT else wrapped)
    if value < bottom or (bits != 64 and incr < min_incr) or (value < 0 and incr < 0 and incr < min_incr):
        return -1, (bottom if owtype == _SAT else wrapped)
    return 0, 0


def _bitfield(ctx: Client, key: bytes, args: tuple[bytes, ...], readonly_cmd: bool) -> list[Any]:
    ops: list[tuple[int, bool, int, int, int, int]] = []
    owtype = _WRAP
    highest = -1
    j = 0
    while j < len(args):
        sub = args[j].lower()
        remaining = len(args) - j - 1
        if sub == b"get" and remaining >= 2:
            opcode = _GET
        elif sub == b"set" and remaining >= 3:
            opcode = _SET
        elif sub == b"incrby" and remaining >= 3:
            opcode = _INCRBY
        elif sub == b"overflow" and remaining >= 1:
            owtype_new = _OVERFLOW.get(args[j + 1].lower())
            if owtype_new is None:
                raise CommandError(errors.BITFIELD_OVERFLOW)
            owtype = owtype_new
            j += 2
            continue
        else:
            raise CommandError(errors.SYNTAX)  # even for BITFIELD_RO, in Redis 7.0
        signed, bits = _field_type(args[j + 1])
        offset = _bit_offset(ctx, args[j + 2], bits)
        arg = 0
        if opcode != _GET:
            highest = max(highest, offset + bits - 1)
            arg = to_int(args[j + 3])
            j += 4
        else:
            j += 3
        ops.append((opcode, signed, bits, offset, arg, owtype))
    if highest >= 0 and readonly_cmd:
        raise CommandError(errors.BITFIELD_RO_GET_ONLY)  # before the type check, as in Redis
    # Redis reads the key with lookupKeyRead only when every operation is a GET.
    old = _string(ctx, key) if highest < 0 else _string_for_write(ctx, key)
    if highest < 0:
        source = old or b""
        return [_get_field(source, offset, bits, signed) for _, signed, bits, offset, _, _ in ops]
    # Work on a copy of just the bytes the operations touch, so a BITFIELD on a big bitmap copies the
    # rest of the string once (into the new value) instead of twice through a bytearray.
    source = old or b""
    size = max(len(source), (highest >> 3) + 1)
    lo = min(offset >> 3 for _, _, _, offset, _, _ in ops)
    hi = max((offset + bits - 1) >> 3 for _, _, bits, offset, _, _ in ops)
    window = bytearray(source[lo : hi + 1])
    window.extend(bytes(hi + 1 - lo - len(window)))
    base = lo * 8
    out: list[Any] = []
    # Redis counts a SET/INCRBY that wrote as a change when the string was created or grown, or
    # when it changed the field's bits.
    grown = old is None or size > len(source)
    changes = 0
    for opcode, signed, bits, offset, arg, ow in ops:
        offset -= base
        if opcode == _GET:
            out.append(_get_field(window, offset, bits, signed))
            continue
        current = _get_field(window, offset, bits, signed)
        check = _signed_overflow if signed else _unsigned_overflow
        if opcode == _INCRBY:
            overflow, limited = check(current, arg, bits, ow)
            new = limited if overflow else current + arg
            reply = new
        else:
            # Unsigned fields take the value as C's (uint64_t) cast of the signed argument.
            new = arg if signed else arg & _MASK64
            overflow, limited = check(new, 0, bits, ow)
            if overflow:
                new = limited
            reply = current
        if overflow and ow == _FAIL:
            out.append(None)
        else:
            out.append(reply)
            _set_field(window, offset, bits, new)
            if grown or (new - current) & ((1 << bits) - 1):
                changes += 1
    # GETs past the end may have widened the window beyond the string; the string keeps its size.
    view = memoryview(source)
    gap = bytes(max(0, lo - len(source)))
    result = b"".join((view[:lo], gap, memoryview(window)[: min(hi + 1, size) - lo], view[hi + 1 :]))
    # Redis creates/grows the string even when every operation FAILed, but signals the key, sends
    # the event and counts a change only per SET/INCRBY that wrote.
    _store(ctx, key, result, old is not None)
    if changes:
        ctx.db.changed(key, "$", "setbit", changes)
    return out


@command("bitfield")
def bitfield(ctx: Client, key: bytes, *args: bytes) -> list[Any]:
    return _bitfield(ctx, key, args, False)


@command("bitfield_ro")
def bitfield_ro(ctx: Client, key: bytes, *args: bytes) -> list[Any]:
    return _bitfield(ctx, key, args, True)
