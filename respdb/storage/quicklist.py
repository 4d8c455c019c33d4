"""The list value type (QuickList): a chunked list, O(1) at both ends and O(log n) by index.

A `collections.deque` is O(1) at the ends but walks to reach an index, so LINDEX/LSET/LRANGE in the
middle of a million-element list cost milliseconds. Redis keeps lists as a quicklist (a linked list of
listpacks); this is the Python counterpart: a list of chunks (plain Python lists of bytes, at most
`CHUNK` slots each) and, beside it, each chunk's absolute start position. Positions live in a
coordinate system whose origin can move, so:

- an index i is absolute `base + i` (base = start of chunk 0 + its free front slots), and `bisect`
  over the starts finds its chunk: O(log chunks), then one C-level list index or slice;
- RPUSH appends to the last chunk; LPUSH writes into free slots (`None` padding) kept at the front of
  chunk 0, so neither shifts any element nor touches a start; LPOP turns the slot it empties back into
  padding. Padding grows geometrically (amortised O(1)) and chunk 0 never exceeds CHUNK slots;
- a middle insertion grows one chunk and moves the starts on its shorter side (O(chunks)); a chunk that
  outgrows CHUNK is split in two. Removals in the middle (LREM) rebuild only the chunks they touch,
  then drop empty chunks and merge small neighbours.

Invariants (checked by `layout_errors`, which the tests call): at least one chunk; only chunk 0 has
padding (`_off` slots); every chunk holds at least one element unless the list is empty (then there
is one empty chunk); `_starts[c + 1] == _starts[c] + len(_chunks[c])`; `_len` counts the elements.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, chain, islice
from sys import getsizeof

from respdb.storage.keyspace import register_type

# Slots per chunk. Measured on a 1M-element list (timeit, ns per call; CHUNK 256 / 1024 / 2048 / 4096):
# range(o, o + 100) at random o 1378 / 1173 / 1143 / 1062, [i] 754 / 680 / 668 / 651, insert at a random
# place 29030 / 12348 / 7084 / 4424 (moving starts dominates); the four end operations 64-101 whatever
# the size. Past 2048 the gains are small while a chunk's memmove on insert and chunk 0's padding (up to
# CHUNK slots) keep growing.
CHUNK = 2048
_MERGE_BELOW = CHUNK // 4  # after removals, a chunk this small is merged into a neighbour that has room
_MIN_PAD = 8


class QuickList:
    """A list of bytes elements stored in chunks; the keyspace's list type."""

    __slots__ = ("_chunks", "_len", "_off", "_starts")

    def __init__(self, items: Iterable[bytes] = ()) -> None:
        self._load(list(items))

    @classmethod
    def from_list(cls, items: list[bytes]) -> QuickList:
        """A QuickList that takes ownership of `items` (no copy: the caller must not keep using it)."""
        ql = cls.__new__(cls)
        ql._load(items)
        return ql

    def _load(self, items: list[bytes]) -> None:
        n = len(items)
        if n <= CHUNK:
            self._chunks = [items]
            self._starts = [0]
        else:
            self._chunks = [items[i:i + CHUNK] for i in range(0, n, CHUNK)]
            self._starts = list(range(0, n, CHUNK))
        self._off = 0
        self._len = n

    def clear(self) -> None:
        self._chunks = [[]]
        self._starts = [0]
        self._off = 0
        self._len = 0

    def copy(self) -> QuickList:
        """An independent copy (COPY): same layout, chunks duplicated."""
        ql = QuickList.__new__(QuickList)
        ql._chunks = [c[:] for c in self._chunks]
        ql._starts = self._starts[:]
        ql._off = self._off
        ql._len = self._len
        return ql

    clone = copy

    # --- size, iteration, comparison -----------------------------------------------------------
    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[bytes]:
        chunks = self._chunks
        if self._off:
            return chain(chunks[0][self._off:], chain.from_iterable(islice(chunks, 1, None)))
        return chain.from_iterable(chunks)

    def __reversed__(self) -> Iterator[bytes]:
        chunks = self._chunks
        tail: Iterable[list[bytes]] = reversed(chunks)
        if self._off:
            tail = chain(islice(reversed(chunks), len(chunks) - 1), (chunks[0][self._off:],))
        return chain.from_iterable(map(reversed, tail))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not QuickList:
            return NotImplemented
        return self._len == other._len and list(self) == list(other)  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, like list and deque

    def __repr__(self) -> str:
        return f"QuickList({list(self)!r})"

    # --- the ends ------------------------------------------------------------------------------
    # The pushes here and pop/popleft below are LPUSH/RPUSH/LPOP/RPOP's whole cost beyond dispatch: the
    # common case touches one chunk and one counter, and the pushes return the new length (LPUSH's
    # reply), which saves the caller a len() call.
    def append(self, x: bytes) -> int:
        tail = self._chunks[-1]
        if len(tail) < CHUNK:
            tail.append(x)
        else:
            self._starts.append(self._starts[-1] + len(tail))
            self._chunks.append([x])
        n = self._len = self._len + 1
        return n

    def extend(self, items: Sequence[bytes]) -> int:
        """Append every element of `items` (a sequence) in order; the new length."""
        chunks = self._chunks
        tail = chunks[-1]
        room = CHUNK - len(tail)
        k = len(items)
        if k <= room:
            tail.extend(items)
        else:
            tail.extend(items[:room])
            starts = self._starts
            s = starts[-1] + len(tail)
            for j in range(room, k, CHUNK):
                chunks.append(list(items[j:j + CHUNK]))
                starts.append(s)
                s += CHUNK
        n = self._len = self._len + k
        return n

    def appendleft(self, x: bytes) -> int:
        off = self._off
        if off:  # a free slot before the head (the usual LPUSH): extendleft's k == 1 case, inline
            self._chunks[0][off - 1] = x
            self._off = off - 1
            n = self._len = self._len + 1
            return n
        return self.extendleft((x,))

    def extendleft(self, items: Sequence[bytes]) -> int:
        """Prepend the elements of `items` one by one, so the last ends up first (LPUSH a b → b a);
        the new length."""
        k = len(items)
        off = self._off
        if k > off:
            if len(self._chunks[0]) + k - off > CHUNK:
                return self._prepend_chunks(items)
            off = self._pad_front(k)
        if k == 1:
            self._chunks[0][off - 1] = items[0]
        else:
            self._chunks[0][off - k:off] = items[::-1]
        self._off = off - k
        n = self._len = self._len + k
        return n

    def _pad_front(self, need: int) -> int:
        """Grow chunk 0's free front slots to at least `need` (it has room for them); the new count.

        Doubling the chunk's size each time keeps a run of LPUSHes amortised O(1)."""
        head = self._chunks[0]
        n = len(head)
        pad = min(CHUNK - n, max(need - self._off, n, _MIN_PAD))
        head[0:0] = [None] * pad
        self._starts[0] -= pad
        self._off += pad
        return self._off

    def _prepend_chunks(self, items: Sequence[bytes]) -> int:
        """extendleft when chunk 0 cannot take everything: fill its padding, put the rest in new chunks."""
        k = len(items)
        order = list(reversed(items))
        if not self._len:
            self._load(order)
            return k
        chunks, starts = self._chunks, self._starts
        off = self._off
        if off:
            chunks[0][0:off] = order[k - off:]
            del order[k - off:]
            self._off = 0
        m = len(order)
        # Full chunks nearest the old head, the partial one (if any) first: it is the one LPUSH grows.
        pieces = [order[max(0, j - CHUNK):j] for j in range(m, 0, -CHUNK)]
        pieces.reverse()
        chunks[0:0] = pieces
        starts[0:0] = accumulate(map(len, pieces[:-1]), initial=starts[0] - m)
        self._len += k
        return self._len

    def pop(self) -> bytes:
        tail = self._chunks[-1]
        x = tail.pop()  # IndexError when the list is empty: its one chunk is then an empty list
        n = self._len = self._len - 1
        if not n:
            self.clear()  # chunk 0 may still hold padding
        elif not tail:
            self._chunks.pop()
            self._starts.pop()
        return x

    def popleft(self) -> bytes:
        head = self._chunks[0]
        off = self._off
        x = head[off]  # IndexError when the list is empty (one empty chunk, no padding)
        head[off] = None  # the slot becomes padding; keeps no reference to the popped element
        off += 1
        self._len -= 1
        if off < len(head):
            self._off = off
        elif self._len:
            del self._chunks[0]
            del self._starts[0]
            self._off = 0
        else:
            self.clear()
        return x

    def popleft_many(self, k: int) -> list[bytes]:
        """Remove and return the first k elements (k <= len), in list order."""
        out = self.range(0, k)
        self.trim(k, 0)
        return out

    def pop_many(self, k: int) -> list[bytes]:
        """Remove and return the last k elements (k <= len), last first (the order RPOP takes them)."""
        out = self.range(self._len - k, self._len)
        out.reverse()
        self.trim(0, k)
        return out

    # --- indexed access ------------------------------------------------------------------------
    def _locate(self, i: int) -> tuple[int, int]:
        """(chunk number, slot) of element i, 0 <= i < len."""
        starts = self._starts
        a = starts[0] + self._off + i
        c = bisect_right(starts, a) - 1
        return c, a - starts[c]

    def _index(self, i: int) -> int:
        n = self._len
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("list index out of range")
        return i

    def __getitem__(self, i: int) -> bytes:
        c, p = self._locate(self._index(i))
        return self._chunks[c][p]

    def __setitem__(self, i: int, x: bytes) -> None:
        c, p = self._locate(self._index(i))
        self._chunks[c][p] = x

    def range(self, start: int, stop: int) -> list[bytes]:
        """Elements start..stop-1 as a new list; 0 <= start <= stop <= len. C-level slices per chunk."""
        if start >= stop:
            return []
        starts, chunks = self._starts, self._chunks
        base = starts[0] + self._off
        a, b = base + start, base + stop
        c = bisect_right(starts, a) - 1
        chunk = chunks[c]
        s = starts[c]
        if b <= s + len(chunk):
            return chunk[a - s:b - s]
        out = chunk[a - s:]
        while True:
            c += 1
            chunk = chunks[c]
            s = starts[c]
            if b <= s + len(chunk):
                out += chunk[:b - s]
                return out
            out += chunk

    # --- middle insertions and removals --------------------------------------------------------
    def _grown(self, c: int, d: int) -> None:
        """Chunk c changed length by d: move the starts on whichever side of it has fewer chunks."""
        starts = self._starts
        if c < len(starts) // 2:
            starts[:c + 1] = [s - d for s in islice(starts, c + 1)]
        else:
            starts[c + 1:] = [s + d for s in islice(starts, c + 1, None)]

    def insert(self, i: int, x: bytes) -> None:
        """Insert x before element i (0 <= i <= len; i == len appends)."""
        if i >= self._len:
            self.append(x)
            return
        if i <= 0:
            self.appendleft(x)
            return
        c, p = self._locate(i)
        chunk = self._chunks[c]
        chunk.insert(p, x)
        self._grown(c, 1)
        self._len += 1
        if len(chunk) > CHUNK:
            lo = self._off if c == 0 else 0
            mid = lo + (len(chunk) - lo) // 2
            self._chunks.insert(c + 1, chunk[mid:])
            del chunk[mid:]
            self._starts.insert(c + 1, self._starts[c] + mid)

    def index(self, x: bytes) -> int:
        """Position of the first element equal to x; ValueError if there is none."""
        starts = self._starts
        base = starts[0] + self._off
        lo = self._off
        for c, chunk in enumerate(self._chunks):
            if x in chunk:
                return starts[c] + chunk.index(x, lo) - base
            lo = 0
        raise ValueError("element not in list")

    def positions(self, x: bytes, from_tail: bool, limit: int) -> Iterator[int]:
        """Positions of the elements equal to x, scanning from the head (or the tail) and looking at no
        more than `limit` elements (0: all). Each chunk is searched with C-level `list.index`."""
        n = self._len
        starts, chunks = self._starts, self._chunks
        base = starts[0] + self._off
        scan = n if not limit or limit > n else limit
        if not from_tail:
            stop = base + scan  # absolute end of the scanned region
            for c, chunk in enumerate(chunks):
                s = starts[c]
                if s >= stop:
                    return
                hi = min(len(chunk), stop - s)
                p = self._off if c == 0 else 0
                while True:
                    try:
                        p = chunk.index(x, p, hi)
                    except ValueError:
                        break
                    yield s - base + p
                    p += 1
        else:
            first = base + n - scan  # absolute start of the scanned region
            for c in range(len(chunks) - 1, -1, -1):
                chunk, s = chunks[c], starts[c]
                lo = max(first - s, self._off if c == 0 else 0)
                if lo >= len(chunk):
                    return
                if x not in chunk:
                    continue
                window = chunk[lo:]
                window.reverse()
                p = 0
                top = s + lo + len(window) - 1 - base  # position of window[0]
                while True:
                    try:
                        p = window.index(x, p)
                    except ValueError:
                        break
                    yield top - p
                    p += 1

    def remove(self, x: bytes, count: int) -> int:
        """LREM: remove elements equal to x — all (count 0), the first count, or the last -count.
        Returns how many were removed."""
        chunks = self._chunks
        removed = 0
        if count == 0:
            for chunk in chunks:
                if x in chunk:
                    kept = [e for e in chunk if e != x]  # None padding is kept: it never equals bytes
                    removed += len(chunk) - len(kept)
                    chunk[:] = kept
        else:
            todo = abs(count)
            order = range(len(chunks)) if count > 0 else range(len(chunks) - 1, -1, -1)
            for c in order:
                chunk = chunks[c]
                if x not in chunk:
                    continue
                hits = [p for p, e in enumerate(chunk) if e == x]
                hits = hits[:todo] if count > 0 else hits[-todo:]
                for p in reversed(hits):
                    del chunk[p]
                removed += len(hits)
                todo -= len(hits)
                if not todo:
                    break
        if removed:
            self._len -= removed
            self._compact()
        return removed

    def trim(self, left: int, right: int) -> None:
        """Remove `left` elements from the head and `right` from the tail (LTRIM, multi-element pops)."""
        if left + right >= self._len:
            self.clear()
            return
        chunks, starts = self._chunks, self._starts
        self._len -= left + right
        while right:
            tail = chunks[-1]
            # The list keeps elements, so the last chunk is only chunk 0 if those are in it too.
            if right >= len(tail) and len(chunks) > 1:
                right -= len(tail)
                chunks.pop()
                starts.pop()
            else:
                del tail[len(tail) - right:]
                right = 0
        while left:
            head = chunks[0]
            off = self._off
            held = len(head) - off
            if left >= held:
                left -= held
                del chunks[0]
                del starts[0]
                self._off = 0
            else:
                # The removed elements' slots become padding, ready for the next LPUSH.
                head[off:off + left] = [None] * left
                self._off = off + left
                left = 0

    def _compact(self) -> None:
        """After removals in place: drop emptied chunks, merge small neighbours, recompute the starts."""
        if not self._len:
            self.clear()
            return
        chunks = self._chunks
        off = self._off
        if off and len(chunks[0]) == off:
            chunks[0] = []
            off = 0
        merged: list[list[bytes]] = []
        for chunk in chunks:
            if not chunk:
                continue
            if merged:
                last = merged[-1]
                if (len(chunk) < _MERGE_BELOW or len(last) < _MERGE_BELOW) and len(last) + len(chunk) <= CHUNK:
                    last += chunk
                    continue
            merged.append(chunk)
        if merged[0] is not chunks[0]:
            off = 0  # chunk 0 was dropped: its padding went with it
        self._chunks = merged
        self._starts = list(accumulate(map(len, merged[:-1]), initial=self._starts[0]))
        self._off = off

    # --- diagnostics ---------------------------------------------------------------------------
    def container_bytes(self) -> int:
        """Bytes held by the layout itself (chunk lists and starts, padding included), not the elements:
        MEMORY USAGE adds the elements by sampling."""
        return (getsizeof(self) + getsizeof(self._chunks) + getsizeof(self._starts)
                + sum(map(getsizeof, self._chunks)) + sum(map(getsizeof, self._starts)))

    def layout_errors(self) -> list[str]:
        """Broken invariants (see the module docstring), as messages; empty when the layout is sound."""
        errs: list[str] = []
        chunks, starts = self._chunks, self._starts
        if not chunks or len(chunks) != len(starts):
            return [f"{len(chunks)} chunks but {len(starts)} starts"]
        if any(starts[c + 1] != starts[c] + len(chunks[c]) for c in range(len(chunks) - 1)):
            errs.append("starts do not follow the chunk lengths")
        if any(len(c) > CHUNK for c in chunks):
            errs.append("a chunk exceeds CHUNK")
        if any(e is not None for e in chunks[0][:self._off]):
            errs.append("padding holds elements")
        if any(e is None for e in chain(chunks[0][self._off:], *chunks[1:])):
            errs.append("an element slot holds None")
        held = len(chunks[0]) - self._off + sum(map(len, chunks[1:]))
        if held != self._len:
            errs.append(f"length {self._len} but {held} elements held")
        if self._len and (len(chunks[0]) == self._off or not all(chunks[1:])):
            errs.append("an empty chunk in a non-empty list")
        if not self._len and (len(chunks) != 1 or chunks[0]):
            errs.append("an empty list not in its reset state")
        return errs


register_type(QuickList, b"list")
