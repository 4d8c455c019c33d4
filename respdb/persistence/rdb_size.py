"""How many bytes Redis 7.0's RDB would take for a value: DEBUG OBJECT's `serializedlength`.

Redis reports rdbSavedObjectLen: the value's RDB encoding without key, type byte or expiry. This
module rebuilds that encoding's length from the same rules — length prefixes (rdbSaveLen), integer
strings (rdbTryIntegerEncoding), listpacks and intsets byte for byte (listpack.c, intset.c), quicklist
nodes, the stream layout of RDB_TYPE_STREAM_LISTPACKS_2 — and LZF-compresses every string over 20
bytes the way rdbSaveRawString does (rdbcompression is always on in respdb), with a port of
liblzf 3.6's lzf_compress (VERY_FAST, HLOG 16) so the compressed sizes are the ones Redis gets.

Where respdb does not keep what Redis's layout depends on, the length is an estimate:
- list nodes are packed greedily from the head under list-max-listpack-size -2 (8 KB) with no
  compression depth, which is how RPUSH builds a list (Redis's boundaries depend on push history);
- a string over 256 KiB is LZF-compressed in four spread slices of 64 KiB and their ratio applied
  to the whole (exact for incompressible data, which Redis stores raw too);
- big collections are sized from a spread sample of their parts once the work passes a budget
  (about 0.4 s; see _sampled_sum): within 0.4% for 300k-element collections;
- an intset's width comes from the current members (Redis never narrows it after SREM);
- a stream node that holds deleted entries (XDEL keeps their bytes; respdb does not) is sized with
  its live entries' LZF ratio applied to the node's listpack size;
- liblzf's hash table is a stack array Redis never clears (INIT_HTAB 0), so a stale slot left by an
  earlier call can, rarely, give Redis a back reference a fresh table (used here) does not find; a
  table kept across calls gave the same sizes as a fresh one for 3000 strings built from shared
  fragments, so the fresh one is used.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from respdb.storage.stream import canonical_int

SIZE_SAFETY_LIMIT = 8192  # quicklist: list-max-listpack-size -2 means 8 KB listpacks
_SIZE_ESTIMATE_OVERHEAD = 8  # quicklist.c's allowance for one new entry's header and backlen
_PACKED_THRESHOLD = 1 << 30  # quicklist: elements this big get a plain node of their own
# The LZF port runs at ~0.8 µs per input byte (Redis's C at a few ns): strings longer than this are
# estimated from LZF_EXACT_LIMIT bytes of slices, so one string costs DEBUG OBJECT at most ~0.2 s.
LZF_EXACT_LIMIT = 1 << 18


# --- RDB primitives -------------------------------------------------------------------------------
def len_size(n: int) -> int:
    """rdbSaveLen: 6-bit, 14-bit, 32-bit or 64-bit length."""
    if n < 1 << 6:
        return 1
    if n < 1 << 14:
        return 2
    if n <= 0xFFFFFFFF:
        return 5
    return 9


def int_string_size(value: int) -> int:
    """rdbEncodeInteger: 8/16/32-bit integer encodings (0 when the value needs more)."""
    if -(1 << 7) <= value < 1 << 7:
        return 2
    if -(1 << 15) <= value < 1 << 15:
        return 3
    if -(1 << 31) <= value < 1 << 31:
        return 5
    return 0


def raw_string_size(s: bytes) -> int:
    """rdbSaveRawString: small canonical integers as integers, LZF over 20 bytes when it saves
    more than 4 bytes, else length + bytes."""
    n = len(s)
    if n <= 11:
        v = canonical_int(s)
        if v is not None:
            enc = int_string_size(v)
            if enc:
                return enc
    if n > 20:
        packed = lzf_size(s, n - 4) if n <= LZF_EXACT_LIMIT else _lzf_estimate(s)
        if packed:
            return 1 + len_size(packed) + len_size(n) + packed
    return len_size(n) + n


def string_value_size(s: bytes, int_encoded: bool) -> int:
    """rdbSaveStringObject: an int-encoded string is saved from its number, else as raw bytes."""
    if int_encoded:
        v = int(s)
        enc = int_string_size(v)
        return enc if enc else len_size(len(s)) + len(s)
    return raw_string_size(s)


# --- LZF (liblzf 3.6 lzf_c.c as Redis builds it: VERY_FAST, HLOG 16, offsets as hash slots) ----------
_MAX_LIT = 1 << 5
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


def lzf_size(data: bytes, out_len: int) -> int:
    """The length lzf_compress(data, out_len) returns: 0 when the output would not fit in out_len."""
    in_end = len(data)
    if not in_end or not out_len:
        return 0
    if in_end < 3:  # too short to hold a back reference (Redis never asks: it compresses > 20 bytes)
        return _literal_tail(0, in_end, 0, 1, out_len) if in_end + 1 <= out_len else 0
    htab: dict[int, int] = {}  # slot → offset (a fresh table: see the module docstring)
    ip, op, lit = 0, 1, 0
    hval = (data[0] << 8) | data[1]
    while ip < in_end - 2:
        hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
        slot = ((hval >> 8) - hval * 5) & 0xFFFF
        ref = htab.get(slot, 0)  # offset 0 reads as a NULL slot in liblzf
        htab[slot] = ip
        if ref and 0 <= ip - ref - 1 < _MAX_OFF and data[ref : ref + 3] == data[ip : ip + 3]:
            maxlen = min(in_end - ip - 2, _MAX_REF)
            if op + 4 >= out_len and op - (not lit) + 4 >= out_len:
                return 0
            op -= not lit  # an empty literal run is undone
            length = 2
            if maxlen > 16:  # the unrolled loop: 16 compares that may pass maxlen, then one more step
                for _ in range(16):
                    length += 1
                    if data[ref + length] != data[ip + length]:
                        break
                else:
                    length += 1
                    while length < maxlen and data[ref + length] == data[ip + length]:
                        length += 1
            else:
                length += 1
                while length < maxlen and data[ref + length] == data[ip + length]:
                    length += 1
            length -= 2
            op += (1 if length < 7 else 2) + 1 + 1  # back reference, then a new literal run header
            lit = 0
            ip += length + 2
            if ip >= in_end - 2:
                break
            ip -= 2  # VERY_FAST: hash the last two positions of the match
            hval = (data[ip] << 8) | data[ip + 1]
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
            htab[((hval >> 8) - hval * 5) & 0xFFFF] = ip
            ip += 1
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
            htab[((hval >> 8) - hval * 5) & 0xFFFF] = ip
            ip += 1
        else:
            if op >= out_len:
                return 0
            lit += 1
            op += 1
            ip += 1
            if lit == _MAX_LIT:
                lit = 0
                op += 1
    if op + 3 > out_len:
        return 0
    return _literal_tail(ip, in_end, lit, op, out_len)


def _lzf_estimate(s: bytes) -> int:
    """A string over LZF_EXACT_LIMIT: four evenly spread slices (LZF_EXACT_LIMIT bytes in all) are
    compressed and their ratio applied to the whole; 0 (stored raw) when that saves 4 bytes or less."""
    n = len(s)
    piece = LZF_EXACT_LIMIT // 4
    sampled = packed = 0
    for i in range(4):
        at = i * (n - piece) // 3
        chunk = s[at : at + piece]
        # Room for incompressible data (liblzf adds one byte per 32 literals) so every slice measures.
        packed += lzf_size(chunk, piece + piece // 16 + 16)
        sampled += piece
    estimate = packed * n // sampled
    return estimate if estimate < n - 4 else 0


def _literal_tail(ip: int, in_end: int, lit: int, op: int, out_len: int) -> int:
    """The last (at most 2) bytes go out as literals; returns the final output length."""
    while ip < in_end:
        lit += 1
        op += 1
        ip += 1
        if lit == _MAX_LIT:
            lit = 0
            op += 1
    return op - (not lit)


# --- listpacks (listpack.c) -------------------------------------------------------------------------
def _lp_int(v: int) -> bytes:
    if 0 <= v <= 127:
        return bytes((v,))
    if -4096 <= v <= 4095:
        u = v & 0x1FFF
        return bytes((0xC0 | (u >> 8), u & 0xFF))
    for tag, width in ((0xF1, 2), (0xF2, 3), (0xF3, 4)):
        if -(1 << (8 * width - 1)) <= v < 1 << (8 * width - 1):
            return bytes((tag,)) + (v & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return b"\xf4" + struct.pack("<q", v)


def _lp_backlen(n: int) -> bytes:
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))


def lp_entry(s: bytes | int) -> bytes:
    """One listpack element with its backlen: an integer when the string is a canonical int64."""
    v = s if isinstance(s, int) else canonical_int(s)
    if v is not None:
        enc = _lp_int(v)
    else:
        n = len(s)  # type: ignore[arg-type]
        if n < 64:
            enc = bytes((0x80 | n,)) + s  # type: ignore[operator]
        elif n < 4096:
            enc = bytes((0xE0 | (n >> 8), n & 0xFF)) + s  # type: ignore[operator]
        else:
            enc = b"\xf0" + struct.pack("<I", n) + s  # type: ignore[operator]
    return enc + _lp_backlen(len(enc))


def listpack(entries: list[bytes]) -> bytes:
    """A whole listpack: total bytes, element count (65535 = unknown), elements, 0xFF."""
    body = b"".join(entries)
    return struct.pack("<IH", 6 + len(body) + 1, min(len(entries), 65535)) + body + b"\xff"


def d2string(score: float) -> bytes:
    """Redis 7.0's d2string, which is how a zset listpack stores a score."""
    if score != score:
        return b"nan"
    if score in (float("inf"), float("-inf")):
        return b"inf" if score > 0 else b"-inf"
    if score == 0:
        return b"-0" if str(score).startswith("-") else b"0"
    if -(2.0**63) < score < 2.0**63 and score == int(score):
        return b"%d" % int(score)
    return b"%.17g" % score


# --- per type ------------------------------------------------------------------------------------------
def value_size(value: Any, type_name: bytes, encoding: bytes) -> int:
    """rdbSavedObjectLen for a value of this Redis type and OBJECT ENCODING."""
    if type_name == b"string":
        return string_value_size(value, encoding == b"int")
    if type_name == b"list":
        return _list_size(list(value))
    if type_name == b"set":
        if encoding == b"intset":
            return raw_string_size(_intset(value))
        members = list(value)
        return len_size(len(members)) + _sampled_sum(len(members), lambda i: _strings_part(members[i]))
    if type_name == b"hash":
        if encoding == b"listpack":
            return raw_string_size(listpack([lp_entry(x) for kv in value.items() for x in kv]))
        pairs = list(value.items())
        return len_size(len(pairs)) + _sampled_sum(len(pairs), lambda i: _strings_part(*pairs[i]))
    if type_name == b"zset":
        items = list(value.items())
        if encoding == b"listpack":
            return raw_string_size(listpack([lp_entry(x) for m, s in items for x in (m, d2string(s))]))
        # Each member, then its score as an 8-byte binary double.
        return len_size(len(items)) + _sampled_sum(len(items), lambda i: _strings_part(items[i][0], extra=8))
    if type_name == b"stream":
        return _stream_size(value)
    raise ValueError(f"no RDB encoding for {type_name!r}")


# A collection is sized part by part (list and stream nodes, hashtable elements); the walk stops once
# it has spent _BUDGET (LZF input bytes, plus _PART_COST per part for the Python work around it) and
# scales what it saw to the whole. The parts are visited in a strided order that covers the whole
# collection evenly, so a walk cut short is a spread sample; below the budget the sum is exact.
_BUDGET = 1 << 19
_PART_COST = 64


def _sampled_sum(count: int, part: Callable[[int], tuple[int, int]]) -> int:
    """Sum of part(i)[0] for i < count (part returns (size, work)), exact within the budget."""
    stride = _coprime_stride(count)
    total = spent = 0
    for done in range(1, count + 1):
        size, work = part((done - 1) * stride % count)
        total += size
        spent += work + _PART_COST
        if spent >= _BUDGET and done < count:
            return total * count // done
    return total


def _coprime_stride(count: int) -> int:
    """A step near 0.618 * count sharing no factor with it: k * step % count visits every index
    once and spreads the first ones over the whole range."""
    step = max(1, int(count * 0.6180339887))
    while math.gcd(step, count) != 1:
        step += 1
    return step


def _strings_part(*strings: bytes, extra: int = 0) -> tuple[int, int]:
    return sum(raw_string_size(x) for x in strings) + extra, sum(len(x) for x in strings)


def _intset(members: Any) -> bytes:
    ints = sorted(int(m) for m in members)
    width = 2
    if ints and (ints[0] < -(1 << 15) or ints[-1] >= 1 << 15):
        width = 4 if ints[0] >= -(1 << 31) and ints[-1] < 1 << 31 else 8
    fmt = {2: "h", 4: "i", 8: "q"}[width]
    return struct.pack(f"<II{len(ints)}{fmt}", width, len(ints), *ints)


def _entry_size(s: bytes) -> int:
    """len(lp_entry(s)) without building it."""
    if s and s[0] in _NUMERIC_START:
        v = canonical_int(s)
        if v is not None:
            return len(_lp_int(v)) + 1  # an integer encoding is at most 9 bytes: a 1-byte backlen
    n = len(s)
    enc = 1 + n if n < 64 else 2 + n if n < 4096 else 5 + n
    return enc + len(_lp_backlen(enc))


_NUMERIC_START = frozenset(b"-0123456789")


def list_nodes(items: list[bytes]) -> list[tuple[int, int, int]]:
    """Quicklist nodes as RPUSH fills them under fill -2, as (first, end, listpack bytes): an element
    joins the tail node while the node's bytes + its length + 8 stay within 8 KB
    (_quicklistNodeAllowInsert); an element of 1 GB or more gets a plain node of its own."""
    nodes: list[tuple[int, int, int]] = []
    first, size = 0, 0
    for i, item in enumerate(items):
        n = len(item)
        if n >= _PACKED_THRESHOLD:
            if i > first:
                nodes.append((first, i, size))
            nodes.append((i, i + 1, n))
            first, size = i + 1, 0
        elif i > first and size + n + _SIZE_ESTIMATE_OVERHEAD <= SIZE_SAFETY_LIMIT:
            size += _entry_size(item)
        else:
            if i > first:
                nodes.append((first, i, size))
            first, size = i, 7 + _entry_size(item)
    if len(items) > first:
        nodes.append((first, len(items), size))
    return nodes


def _list_size(items: list[bytes]) -> int:
    nodes = list_nodes(items)

    def node_size(i: int) -> tuple[int, int]:
        first, end, size = nodes[i]
        if end - first == 1 and len(items[first]) >= _PACKED_THRESHOLD:
            return 1 + raw_string_size(items[first]), size  # container kind PLAIN, the element
        return 1 + raw_string_size(listpack([lp_entry(x) for x in items[first:end]])), size  # PACKED

    return len_size(len(nodes)) + _sampled_sum(len(nodes), node_size)


def quicklist_info(items: Any) -> tuple[int, int, int]:
    """(nodes, elements, total listpack bytes) of the node layout used for the list's length."""
    elements = list(items)
    nodes = list_nodes(elements)
    return len(nodes), len(elements), sum(size for _, _, size in nodes)


def _stream_node(value: Any, index: int) -> bytes:
    """A stream node's listpack rebuilt from its live entries (exact when it has no deleted ones)."""
    node = value.nodes[index]
    end = value.node_keys[index + 1] if index + 1 < len(value.nodes) else None
    fields = node.fields
    master_ms, master_seq = node.master_id
    out = [lp_entry(node.count), lp_entry(node.deleted), lp_entry(len(fields)), *map(lp_entry, fields), lp_entry(0)]
    for sid in value.entries.irange(node.master_id, end):
        if end is not None and sid >= end:
            break
        pairs = value.entries[sid]
        same = tuple(pairs[0::2]) == fields
        out += [lp_entry(2 if same else 0), lp_entry(sid[0] - master_ms), lp_entry(sid[1] - master_seq)]
        if same:
            out += [lp_entry(v) for v in pairs[1::2]]
            out.append(lp_entry(len(fields) + 3))
        else:
            out.append(lp_entry(len(pairs) // 2))
            out += [lp_entry(x) for x in pairs]
            out.append(lp_entry(len(pairs) + 4))
    return listpack(out)


def _stream_node_size(value: Any, index: int) -> int:
    blob = _stream_node(value, index)
    node = value.nodes[index]
    if not node.deleted:
        return raw_string_size(blob)
    # XDEL only flags entries: Redis still holds (and compresses) their bytes, which are gone here.
    # Estimate with the live entries' compression ratio applied to the node's real size.
    size = node.lp_bytes()
    packed = lzf_size(blob, len(blob) - 4) if len(blob) > 20 else 0
    if not packed:
        return len_size(size) + size
    estimate = packed * size // len(blob)
    return 1 + len_size(estimate) + len_size(size) + estimate


def _stream_size(value: Any) -> int:
    total = len_size(len(value.nodes))
    # Per node: its key (the master id as 16 raw bytes) and its listpack.
    total += _sampled_sum(len(value.nodes), lambda i: (1 + 16 + _stream_node_size(value, i), value.nodes[i].lp_bytes()))
    ids = (value.last_id, value.first_id, value.max_deleted_id)
    total += len_size(len(value)) + sum(len_size(ms) + len_size(seq) for ms, seq in ids)
    total += len_size(value.entries_added) + len_size(len(value.groups))
    for name, group in value.groups.items():
        total += raw_string_size(name) + len_size(group.last_id[0]) + len_size(group.last_id[1])
        total += len_size(group.entries_read & 0xFFFFFFFFFFFFFFFF)  # -1 is saved as a u64
        total += len_size(len(group.pel)) + sum(16 + 8 + len_size(nack.delivery_count) for nack in group.pel.values())
        total += len_size(len(group.consumers))
        for consumer in group.consumers.values():
            total += raw_string_size(consumer.name) + 8 + len_size(len(consumer.pel)) + 16 * len(consumer.pel)
    return total

