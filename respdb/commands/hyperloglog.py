"""HyperLogLog: PFADD, PFCOUNT, PFMERGE over Redis's exact string representation (hyperloglog.c).

A HyperLogLog is an ordinary string value: the 16-byte "HYLL" header (encoding byte, cached
cardinality with bit 63 marking it stale) and either the sparse run-length opcodes (ZERO, XZERO,
VAL) or 16384 dense 6-bit registers. Every step — MurmurHash64A with seed 0xadc83b19, the opcode
splits and the bounded five-opcode merge scan of hllSparseSet, promotion past hll-sparse-max-bytes,
Ertl's estimator — follows Redis, so GET returns the same bytes and PFCOUNT the same numbers.
Sparse data is edited as a list of opcodes with their first-register indexes (bisect, not a scan);
dense registers are read a byte plane at a time with bytes.translate.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any

from respdb import errors
from respdb.commands.encoding_history import RAW, record
from respdb.commands.registry import command
from respdb.config import param
from respdb.errors import CommandError
from respdb.protocol.types import OK
from respdb.server.client import Client
from respdb.storage.keyspace import Database, WrongType

param("hll-sparse-max-bytes", "memory", 3000, hi=2**63 - 1)

P = 14
Q = 64 - P
REGISTERS = 1 << P
P_MASK = REGISTERS - 1
HDR = 16
DENSE_SIZE = HDR + (REGISTERS * 6 + 7) // 8
ALPHA_INF = 0.721347520444481703680
SPARSE, DENSE = 1, 0
ZERO, XZERO, VAL = 0, 1, 2
_M64 = (1 << 64) - 1
_MUR_M = 0xC6A4A7935BD1E995
_SEED = 0xADC83B19

# Byte planes → register values without a Python loop per register (see _dense_histogram).
_AND63 = bytes(i & 63 for i in range(256))
_SHR6 = bytes(i >> 6 for i in range(256))
_AND15 = bytes(i & 15 for i in range(256))
_SHR4 = bytes(i >> 4 for i in range(256))
_AND3 = bytes(i & 3 for i in range(256))
_SHR2 = bytes(i >> 2 for i in range(256))
_LOW2_TO_TOP = bytes(((i & 3) << 6) for i in range(256))
_LOW4_TO_TOP = bytes(((i & 15) << 4) & 0xFF for i in range(256))
_SHL2 = bytes((i << 2) & 0xFF for i in range(256))


def murmur64a(data: bytes) -> int:
    n = len(data)
    h = (_SEED ^ (n * _MUR_M)) & _M64
    nblocks = n >> 3
    for k in memoryview(data)[: nblocks * 8].cast("Q") if nblocks else ():
        k = (k * _MUR_M) & _M64
        k ^= k >> 47
        k = (k * _MUR_M) & _M64
        h ^= k
        h = (h * _MUR_M) & _M64
    tail = data[nblocks * 8 :]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * _MUR_M) & _M64
    h ^= h >> 47
    h = (h * _MUR_M) & _M64
    h ^= h >> 47
    return h


def pattern(element: bytes) -> tuple[int, int]:
    """hllPatLen: (register index, run of zeros + 1) for an element."""
    h = murmur64a(element)
    rest = (h >> P) | (1 << Q)
    return h & P_MASK, (rest & -rest).bit_length()


# --- header ------------------------------------------------------------------------------------------
def _new_sparse() -> bytearray:
    return bytearray(b"HYLL\x01" + bytes(11) + b"\x7f\xff")


def _check(value: Any) -> bytes:
    """isHLLObjectOrReply: a string with the HYLL header and a sane size, or the HLL WRONGTYPE error."""
    if value.__class__ is not bytes:
        raise WrongType()
    if len(value) < HDR or value[:4] != b"HYLL" or value[4] > 1:
        raise CommandError(errors.HLL_WRONGTYPE)
    if value[4] == DENSE and len(value) != DENSE_SIZE:
        raise CommandError(errors.HLL_WRONGTYPE)
    return value


def _invalidate(hll: bytearray) -> None:
    hll[15] |= 0x80


# --- sparse -----------------------------------------------------------------------------------------------
_BYTE = [bytes((i,)) for i in range(256)]


def _val_byte(val: int, span: int) -> bytes:
    return _BYTE[0x80 | ((val - 1) << 2) | (span - 1)]


def _op_bytes(kind: int, val: int, span: int) -> bytes:
    if kind == VAL:
        return _val_byte(val, span)
    if kind == ZERO:
        return _BYTE[span - 1]
    return bytes((0x40 | ((span - 1) >> 8), (span - 1) & 0xFF))


class Sparse:
    """Sparse opcodes decoded to parallel lists (kind, value, run length, first register, encoded
    bytes). Edits are list splices (memmove in C) and encoding is one join."""

    __slots__ = ("firsts", "kinds", "lens", "nbytes", "pieces", "vals")

    def __init__(self, data: bytes | bytearray) -> None:
        kinds: list[int] = []
        vals: list[int] = []
        lens: list[int] = []
        firsts: list[int] = []
        pieces: list[bytes] = []
        idx = 0
        i, n = HDR, len(data)
        while i < n:
            b = data[i]
            if b & 0x80:
                kinds.append(VAL)
                vals.append(((b >> 2) & 0x1F) + 1)
                span = (b & 3) + 1
                pieces.append(_BYTE[b])
                i += 1
            elif b & 0x40:
                kinds.append(XZERO)
                vals.append(0)
                span = (((b & 0x3F) << 8) | (data[i + 1] if i + 1 < n else 0)) + 1
                pieces.append(bytes((b, data[i + 1] if i + 1 < n else 0)))
                i += 2
            else:
                kinds.append(ZERO)
                vals.append(0)
                span = (b & 0x3F) + 1
                pieces.append(_BYTE[b])
                i += 1
            lens.append(span)
            firsts.append(idx)
            idx += span
        self.kinds, self.vals, self.lens, self.firsts, self.pieces = kinds, vals, lens, firsts, pieces
        self.nbytes = n

    def total(self) -> int:
        return self.firsts[-1] + self.lens[-1] if self.firsts else 0

    def encode(self, header: bytes | bytearray) -> bytearray:
        return bytearray(header[:HDR]) + b"".join(self.pieces)

    def set(self, index: int, count: int, max_bytes: int) -> int:
        """hllSparseSet: 1 updated, 0 unchanged, -1 corrupt, 2 needs promotion to dense."""
        if count > 32:
            return 2
        k = bisect_right(self.firsts, index) - 1
        if k < 0 or index >= self.firsts[k] + self.lens[k]:
            return -1
        kinds, vals, lens, firsts = self.kinds, self.vals, self.lens, self.firsts
        kind, span, first = kinds[k], lens[k], firsts[k]
        if kind == VAL:
            if vals[k] >= count:
                return 0
            if span == 1:
                vals[k] = count
                self.pieces[k] = _val_byte(count, 1)
                self._merge(k)
                return 1
        elif kind == ZERO and span == 1:
            kinds[k], vals[k] = VAL, count
            self.pieces[k] = _val_byte(count, 1)
            self._merge(k)
            return 1
        last = first + span - 1
        new: list[tuple[int, int, int, int]] = []  # (kind, value, len, first)
        if kind == VAL:
            if index != first:
                new.append((VAL, vals[k], index - first, first))
            new.append((VAL, count, 1, index))
            if index != last:
                new.append((VAL, vals[k], last - index, index + 1))
        else:
            if index != first:
                n = index - first
                new.append((XZERO if n > 64 else ZERO, 0, n, first))
            new.append((VAL, count, 1, index))
            if index != last:
                n = last - index
                new.append((XZERO if n > 64 else ZERO, 0, n, index + 1))
        delta = sum(2 if op[0] == XZERO else 1 for op in new) - (2 if kind == XZERO else 1)
        if delta > 0 and self.nbytes + delta > max_bytes:
            return 2
        kinds[k : k + 1] = [op[0] for op in new]
        vals[k : k + 1] = [op[1] for op in new]
        lens[k : k + 1] = [op[2] for op in new]
        firsts[k : k + 1] = [op[3] for op in new]
        self.pieces[k : k + 1] = [_op_bytes(op[0], op[1], op[2]) for op in new]
        self.nbytes += delta
        self._merge(k)
        return 1

    def _merge(self, k: int) -> None:
        """Step 4 of hllSparseSet: from the opcode before the edit, scan five opcodes merging equal VALs."""
        kinds, vals, lens, firsts = self.kinds, self.vals, self.lens, self.firsts
        p = k - 1 if k > 0 else 0
        scan = 5
        while p < len(kinds) and scan:
            scan -= 1
            if kinds[p] != VAL:
                p += 1
                continue
            if p + 1 < len(kinds) and kinds[p + 1] == VAL and vals[p] == vals[p + 1] and lens[p] + lens[p + 1] <= 4:
                lens[p] += lens[p + 1]
                self.pieces[p] = _val_byte(vals[p], lens[p])
                del kinds[p + 1], vals[p + 1], lens[p + 1], firsts[p + 1], self.pieces[p + 1]
                self.nbytes -= 1
                continue
            p += 1

    def registers(self) -> bytearray | None:
        """Raw registers (one byte each), or None when the opcodes do not cover exactly 16384."""
        regs = bytearray(REGISTERS)
        idx = 0
        for kind, val, span in zip(self.kinds, self.vals, self.lens, strict=True):
            if kind == VAL:
                if idx + span > REGISTERS:
                    return None
                regs[idx : idx + span] = bytes((val,)) * span
            idx += span
        return regs if idx == REGISTERS else None

    def histogram(self) -> list[int] | None:
        histo = [0] * 64
        for kind, val, span in zip(self.kinds, self.vals, self.lens, strict=True):
            histo[val if kind == VAL else 0] += span
        return histo if self.total() == REGISTERS else None


# --- dense ------------------------------------------------------------------------------------------------
def dense_get(regs: bytes | bytearray, i: int) -> int:
    byte, fb = (i * 6) >> 3, (i * 6) & 7
    return ((regs[byte] >> fb) | (regs[byte + 1] << (8 - fb))) & 63 if byte + 1 < len(regs) else (regs[byte] >> fb) & 63


def dense_set(hll: bytearray, i: int, val: int) -> None:
    byte, fb = HDR + ((i * 6) >> 3), (i * 6) & 7
    hll[byte] = (hll[byte] & ~(63 << fb) & 0xFF) | ((val << fb) & 0xFF)
    if byte + 1 < len(hll):  # the last register ends inside the last byte (C touches the sds NUL)
        hll[byte + 1] = (hll[byte + 1] & ~(63 >> (8 - fb)) & 0xFF) | (val >> (8 - fb))


def dense_registers(hll: bytes | bytearray) -> bytes:
    """All 16384 registers, one byte each. Four registers fill three bytes exactly, so each of the
    four register positions is a translate of one or two byte planes; sums never carry past a byte."""
    data = bytes(hll[HDR:])
    b0, b1, b2 = data[0::3], data[1::3], data[2::3]
    n = len(b0)
    r0 = b0.translate(_AND63)
    r1 = (int.from_bytes(b0.translate(_SHR6), "little") + 4 * int.from_bytes(b1.translate(_AND15), "little")).to_bytes(n, "little")
    r2 = (int.from_bytes(b1.translate(_SHR4), "little") + 16 * int.from_bytes(b2.translate(_AND3), "little")).to_bytes(n, "little")
    r3 = b2.translate(_SHR2)
    out = bytearray(REGISTERS)
    out[0::4], out[1::4], out[2::4], out[3::4] = r0, r1, r2, r3
    return bytes(out)


def dense_pack(regs: bytes | bytearray) -> bytes:
    """The inverse of dense_registers: 16384 one-byte registers → 12288 bytes of 6-bit fields. Each
    output byte plane is a sum of disjoint bit ranges, so integer addition never carries."""
    regs = bytes(regs)
    r0, r1, r2, r3 = regs[0::4], regs[1::4], regs[2::4], regs[3::4]
    n = len(r0)

    def plane(a: bytes, b: bytes) -> bytes:
        return (int.from_bytes(a, "little") + int.from_bytes(b, "little")).to_bytes(n, "little")

    out = bytearray(3 * n)
    out[0::3] = plane(r0, r1.translate(_LOW2_TO_TOP))
    out[1::3] = plane(r1.translate(_SHR2), r2.translate(_LOW4_TO_TOP))
    out[2::3] = plane(r2.translate(_SHR4), r3.translate(_SHL2))
    return bytes(out)


def to_dense(hll: bytes | bytearray, sparse: Sparse) -> bytearray | None:
    """hllSparseToDense (header, cached cardinality included, copied over)."""
    regs = sparse.registers()
    if regs is None:
        return None
    out = bytearray(hll[:HDR]) + dense_pack(regs)
    out[4] = DENSE
    return out


# --- estimation -------------------------------------------------------------------------------------------
def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_prev = z
        z += x * y
        y += y
        if z_prev == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        z_prev = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if z_prev == z:
            return z / 3


def estimate(histo: list[int]) -> int:
    m = float(REGISTERS)
    z = m * _tau((m - histo[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += histo[j]
        z *= 0.5
    z += m * _sigma(histo[0] / m)
    return math.floor(ALPHA_INF * m * m / z + 0.5)


def _histogram_of(regs: bytes | bytearray) -> list[int]:
    # Register values climb slowly (most are below 20), so stop once every register is counted.
    histo = [0] * 64
    left = len(regs)
    for v in range(64):
        if not left:
            break
        n = regs.count(_BYTE[v])
        histo[v] = n
        left -= n
    return histo


# --- commands ---------------------------------------------------------------------------------------------
def _max_bytes(ctx: Client) -> int:
    return ctx.server.config.hll_sparse_max_bytes


def add_elements(hll: bytearray, elements: tuple[bytes, ...], max_bytes: int,
                 sparse: Sparse | None = None) -> tuple[bytearray, int, Sparse | None]:
    """hllAdd for each element: (new value, number of updates, its decoded sparse form or None once
    dense); INVALIDOBJ on corruption. `sparse` is `hll` already decoded, if the caller has it."""
    updated = 0
    if sparse is None and hll[4] == SPARSE:
        sparse = Sparse(hll)
    for element in elements:
        index, count = pattern(element)
        if sparse is not None:
            r = sparse.set(index, count, max_bytes)
            if r == 2:
                dense = to_dense(hll, sparse)
                if dense is None:
                    raise CommandError(errors.HLL_INVALID)
                hll, sparse = dense, None
                dense_set(hll, index, count)  # promotion only happens when the register grows
                r = 1
            elif r < 0:
                raise CommandError(errors.HLL_INVALID)
            updated += r
        elif count > dense_get(memoryview(hll)[HDR:], index):
            dense_set(hll, index, count)
            updated += 1
    if sparse is not None:
        hll = sparse.encode(hll)
    return hll, updated, sparse


# Decoded sparse HLLs of recently written keys, so a stream of small PFADDs does not decode ~1500
# opcodes each time. An entry is used only while the stored value is the very bytes object it was
# made from (bytes are immutable, and the entry holds a reference, so identity implies content).
_SPARSE_CACHE: dict[tuple[int, bytes], tuple[bytes, Sparse]] = {}
_SPARSE_CACHE_MAX = 32


def _cached_sparse(db: Database, key: bytes, value: bytes) -> Sparse | None:
    entry = _SPARSE_CACHE.pop((db.id, key), None)  # popped: a failed command must not leave it half-edited
    return entry[1] if entry is not None and entry[0] is value else None


def _remember(db: Database, key: bytes, value: bytes, sparse: Sparse | None) -> None:
    if sparse is None:
        return
    if len(_SPARSE_CACHE) >= _SPARSE_CACHE_MAX:
        del _SPARSE_CACHE[next(iter(_SPARSE_CACHE))]
    _SPARSE_CACHE[(db.id, key)] = (value, sparse)


def _touch(db: Database, key: bytes) -> None:
    """Record a write that is not a data change users see (PFCOUNT refreshing its cache)."""
    ks = db.keyspace
    ks.dirty += 1
    db.touch_watched(key)
    if ks.on_change is not None:
        ks.on_change(db, key)


@command("pfadd")
def pfadd(ctx: Client, key: bytes, *elements: bytes) -> int:
    db = ctx.db
    value = db.get(key)
    created = value is None
    hll = _new_sparse() if created else bytearray(_check(value))
    sparse = None if created else _cached_sparse(db, key, value)
    hll, updated, sparse = add_elements(hll, elements, _max_bytes(ctx), sparse)
    if created or updated:
        _invalidate(hll)
        stored = bytes(hll)
        if created:
            db.add(key, stored)
        else:
            db.set(key, stored, keep_ttl=True)
        # Redis counts the creation and each register raised as one change.
        db.changed(key, "$", "pfadd", created + updated)
        record(db, key, stored, RAW)
        _remember(db, key, stored, sparse)
        return 1
    record(db, key, value, RAW)  # Redis unshares (so makes raw) the string even when nothing changed
    _remember(db, key, value, sparse)
    return 0


def _merge_into(acc: bytearray, value: bytes) -> bytearray:
    """hllMerge: acc[i] = max(acc[i], register i of `value`); INVALIDOBJ for a corrupt sparse value."""
    if value[4] == DENSE:
        return _registers_max(acc, dense_registers(value))
    sparse = Sparse(value)
    if sparse.total() != REGISTERS:
        raise CommandError(errors.HLL_INVALID)
    # Sparse values have few non-zero runs: touch only those.
    for kind, val, span, first in zip(sparse.kinds, sparse.vals, sparse.lens, sparse.firsts, strict=True):
        if kind == VAL:
            for i in range(first, first + span):
                if acc[i] < val:
                    acc[i] = val
    return acc


@command("pfcount")
def pfcount(ctx: Client, *keys: bytes) -> int:
    db = ctx.db
    if len(keys) > 1:
        merged = bytearray(REGISTERS)
        for key in keys:
            value = db.get(key)
            if value is None:
                continue
            merged = _merge_into(merged, _check(value))
        return estimate(_histogram_of(merged))
    key = keys[0]
    value = db.get(key)
    if value is None:
        return 0
    _check(value)
    if not value[15] & 0x80:
        record(db, key, value, RAW)  # Redis unshares the string (raw) even when the cache is valid
        return int.from_bytes(value[8:16], "little")
    sparse = None
    if value[4] == DENSE:
        histo: list[int] | None = _histogram_of(dense_registers(value))
    else:
        sparse = _cached_sparse(db, key, value) or Sparse(value)
        histo = sparse.histogram()
    if histo is None:
        raise CommandError(errors.HLL_INVALID)
    card = estimate(histo)
    # The cache lives in the value, so refreshing it is a write (Redis propagates the PFCOUNT).
    stored = value[:8] + card.to_bytes(8, "little") + value[16:]
    db.set(key, stored, keep_ttl=True)
    record(db, key, stored, RAW)
    _touch(db, key)
    _remember(db, key, stored, sparse)
    return card


def _registers_max(acc: bytes | bytearray, regs: bytes) -> bytearray:
    """Register-wise maximum (map runs the builtin max in C, no Python frame per register)."""
    return bytearray(map(max, acc, regs))


@command("pfmerge")
def pfmerge(ctx: Client, dest: bytes, *sources: bytes) -> Any:
    db = ctx.db
    merged = bytearray(REGISTERS)
    use_dense = False
    for key in (dest, *sources):
        value = db.get(key)
        if value is None:
            continue
        _check(value)
        if value[4] == DENSE:
            use_dense = True
        merged = _merge_into(merged, value)
    value = db.lookup_write(dest)
    created = value is None
    hll = _new_sparse() if created else bytearray(value)
    sparse = Sparse(hll) if hll[4] == SPARSE else None
    if use_dense and sparse is not None:
        dense = to_dense(hll, sparse)
        if dense is None:
            raise CommandError(errors.HLL_INVALID)
        hll, sparse = dense, None
    max_bytes = _max_bytes(ctx)
    if sparse is None:
        # Dense destination: setting each register to max(old, merged) is one bulk repack.
        hll[HDR:] = dense_pack(_registers_max(dense_registers(hll), bytes(merged)))
        merged = bytearray()
    for i, v in enumerate(merged):
        if not v:
            continue
        if sparse is not None:
            r = sparse.set(i, v, max_bytes)
            if r == 2:
                dense = to_dense(hll, sparse)
                if dense is None:
                    raise CommandError(errors.HLL_INVALID)
                hll, sparse = dense, None
                dense_set(hll, i, v)
        elif v > dense_get(memoryview(hll)[HDR:], i):
            dense_set(hll, i, v)
    if sparse is not None:
        hll = sparse.encode(hll)
    _invalidate(hll)
    stored = bytes(hll)
    if created:
        db.add(dest, stored)
    else:
        db.set(dest, stored, keep_ttl=True)
    record(db, dest, stored, RAW)
    db.changed(dest, "$", "pfadd")
    return OK
