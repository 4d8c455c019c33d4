"""The sorted set value type (ZSet) and the range grammar of the Z* commands.

A ZSet keeps a dict member → score beside a SortedList of (score, member), so a lookup is O(1) and a
rank, an insertion or a score range is O(log n), as with Redis's dict + skiplist. Ties sort by member
bytes (memcmp order, which is Python's bytes order).

Redis stores small sets as a listpack and converts them, once and for good, to a skiplist when they
outgrow `zset-max-listpack-entries` / `zset-max-listpack-value`. The `big` flag mirrors that so OBJECT
ENCODING agrees, and so do two behaviours the encoding leaks: a listpack stores -0 as 0, and lex ranges
over a listpack are found by a linear walk (which differs from the skiplist's descent only when the
members in range have mixed scores — documented as undefined, but a client can still observe it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator

from sortedcontainers import SortedList

from respdb.storage.keyspace import register_type

# Thresholds of the listpack encoding; the zsets command module keeps them in step with CONFIG SET.
LIMITS = {"entries": 128, "value": 64}

_INF = math.inf
_next_up = math.nextafter


class ZSet:
    """A sorted set: members (bytes) with float scores, ordered by (score, member)."""

    __slots__ = ("big", "scores", "sl")

    def __init__(self, first_member_len: int = 0) -> None:
        self.scores: dict[bytes, float] = {}
        self.sl = SortedList()
        # ZADD creates a skiplist at once when listpacks are disabled or its first member is too long.
        self.big = LIMITS["entries"] == 0 or first_member_len > LIMITS["value"]

    @classmethod
    def from_items(cls, pairs: Iterable[tuple[bytes, float]]) -> ZSet:
        """A set of (member, score) pairs; encoding chosen from the final size, as the *STORE commands do."""
        z = cls()
        z.big = True  # build without normalising, then decide
        scores = z.scores
        for member, score in pairs:
            scores[member] = score
        z.sl = SortedList([(s, m) for m, s in scores.items()])
        z.shrink_if_small()
        return z

    def shrink_if_small(self) -> None:
        """Redis's zsetConvertToListpackIfNeeded: a small result becomes a listpack (so -0 turns 0)."""
        if len(self.scores) <= LIMITS["entries"] and all(len(m) <= LIMITS["value"] for m in self.scores):
            if self.big:
                self.big = False
                if any(s == 0.0 and math.copysign(1.0, s) < 0 for s in self.scores.values()):
                    pairs = [(m, 0.0 if s == 0.0 else s) for m, s in self.scores.items()]
                    self.scores = dict(pairs)
                    self.sl = SortedList([(s, m) for m, s in pairs])
        else:
            self.big = True

    def clone(self) -> ZSet:
        z = ZSet()
        z.scores = dict(self.scores)
        z.sl = SortedList(self.sl)
        z.big = self.big
        return z

    def __len__(self) -> int:
        return len(self.scores)

    def __bool__(self) -> bool:
        return bool(self.scores)

    def __contains__(self, member: bytes) -> bool:
        return member in self.scores

    def items(self) -> Iterator[tuple[bytes, float]]:
        """(member, score) ascending by (score, member)."""
        return ((m, s) for s, m in self.sl)

    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    # --- updates ---------------------------------------------------------------------------------
    def add(self, member: bytes, score: float) -> bool:
        """Insert or re-score `member`; True when it is new."""
        scores = self.scores
        old = scores.get(member)
        if old is None:
            if not self.big and (len(scores) + 1 > LIMITS["entries"] or len(member) > LIMITS["value"]):
                self.big = True
            if score == 0.0 and not self.big:
                score = 0.0  # a listpack keeps -0 as the integer 0
            scores[member] = score
            self.sl.add((score, member))
            return True
        # Redis compares with !=, so re-scoring 0 as -0 (or back) changes nothing.
        if old != score:
            if score == 0.0 and not self.big:
                score = 0.0
            sl = self.sl
            sl.remove((old, member))
            scores[member] = score
            sl.add((score, member))
        return False

    def remove(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        self.sl.remove((old, member))
        return True

    def pop_at(self, index: int) -> tuple[bytes, float]:
        score, member = self.sl.pop(index)
        del self.scores[member]
        return member, score

    def delete_slice(self, lo: int, hi: int) -> int:
        """Remove the elements at ranks lo..hi-1; returns how many went."""
        if hi <= lo:
            return 0
        sl = self.sl
        scores = self.scores
        for _, member in sl.islice(lo, hi):
            del scores[member]
        del sl[lo:hi]
        return hi - lo

    # --- queries ---------------------------------------------------------------------------------
    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return self.sl.bisect_left((score, member))

    def at(self, index: int) -> tuple[float, bytes]:
        return self.sl[index]

    def slice(self, lo: int, hi: int, reverse: bool = False) -> Iterator[tuple[float, bytes]]:
        return self.sl.islice(lo, hi, reverse=reverse)

    def score_range(self, rng: ScoreRange) -> tuple[int, int]:
        """Ranks [lo, hi) of the elements whose score lies in `rng`."""
        lo_v, lo_ex, hi_v, hi_ex = rng
        if lo_v > hi_v or (lo_v == hi_v and (lo_ex or hi_ex)):
            return 0, 0
        sl = self.sl
        n = len(sl)
        if lo_ex:
            lo = n if lo_v == _INF else sl.bisect_left((_next_up(lo_v, _INF),))
        else:
            lo = sl.bisect_left((lo_v,))
        if hi_ex:
            hi = sl.bisect_left((hi_v,))
        else:
            hi = n if hi_v == _INF else sl.bisect_left((_next_up(hi_v, _INF),))
        return lo, max(lo, hi)

    def lex_range(self, rng: LexRange) -> tuple[int, int]:
        """Ranks [lo, hi) of the elements in a lex range, walked forward from the first one >= min."""
        if lex_empty(rng):
            return 0, 0
        sl = self.sl
        n = len(sl)
        if n == 0 or not gte_min(sl[-1][1], rng) or not lte_max(sl[0][1], rng):
            return 0, 0
        if self.big:
            lo = _bisect(sl, 0, n, lambda m: gte_min(m, rng))
            hi = _bisect(sl, lo, n, lambda m: not lte_max(m, rng))
            return lo, hi
        lo = 0
        while lo < n and not gte_min(sl[lo][1], rng):
            lo += 1
        hi = lo
        while hi < n and lte_max(sl[hi][1], rng):
            hi += 1
        return lo, hi

    def lex_range_rev(self, rng: LexRange) -> tuple[int, int]:
        """As lex_range, walked backward from the last element <= max (differs only for a listpack
        holding mixed scores)."""
        if self.big:
            return self.lex_range(rng)
        if lex_empty(rng):
            return 0, 0
        sl = self.sl
        n = len(sl)
        if n == 0 or not gte_min(sl[-1][1], rng) or not lte_max(sl[0][1], rng):
            return 0, 0
        hi = n
        while hi > 0 and not lte_max(sl[hi - 1][1], rng):
            hi -= 1
        lo = hi
        while lo > 0 and gte_min(sl[lo - 1][1], rng):
            lo -= 1
        return lo, hi


def _bisect(sl: SortedList, lo: int, hi: int, pred: object) -> int:
    """First index in [lo, hi) where the (monotone) predicate on the member holds."""
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(sl[mid][1]):  # type: ignore[operator]
            hi = mid
        else:
            lo = mid + 1
    return lo


register_type(ZSet, b"zset")

# --- range grammar -------------------------------------------------------------------------------
ScoreRange = tuple[float, bool, float, bool]  # min, min exclusive, max, max exclusive
LexRange = tuple[int, bytes, bool, int, bytes, bool]  # per bound: kind (-1 '-', 0 value, 1 '+'), value, exclusive

_C_SPACE = b" \t\n\v\f\r"
_DEC = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?")
_INFNAN = re.compile(rb"([+-]?)(inf|infinity|nan(?:\([0-9A-Za-z_]*\))?)", re.IGNORECASE)


def strtod(text: bytes) -> tuple[float, bool] | None:
    """C strtod on the whole of `text` (leading white space allowed): (value, out_of_range) or None
    when some of it is not a number. Out of range is ERANGE: overflow, or underflow to zero."""
    body = text.lstrip(_C_SPACE)
    if _DEC.fullmatch(body):
        value = float(body)
        if math.isinf(value):
            return value, True
        if value == 0.0 and any(c in b"123456789" for c in body.split(b"e")[0].split(b"E")[0]):
            return value, True
        return value, False
    if _HEX.fullmatch(body):
        sign = -1.0 if body[:1] == b"-" else 1.0
        digits = body.lstrip(b"+-")
        if b"p" not in digits.lower():
            digits += b"p0"
        try:
            return sign * float.fromhex(digits.decode()), False
        except OverflowError:
            return sign * _INF, True
    m = _INFNAN.fullmatch(body)
    if m:
        if m.group(2)[:1].lower() == b"n":
            return math.nan, False
        return (-_INF if m.group(1) == b"-" else _INF), False
    if not text:
        return 0.0, False  # nothing converted and nothing left over: strtod returns 0
    return None


def parse_score(text: bytes) -> float | None:
    """getDoubleFromObject: a whole, finite-or-inf, non-NaN number, no leading space, no ERANGE."""
    if text.isdigit() and len(text) < 300:
        return float(text)  # the usual case; too short to overflow
    if not text or text[:1] in _C_SPACE:
        return None
    # Fast path: Python's float() agrees with strtod on every spelling it accepts except white space
    # at the end, '_' separators, and out-of-range literals, which are weeded out here.
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is not None:
        if value != value or text[-1:] in _C_SPACE or b"_" in text:
            return None
        if value == _INF or value == -_INF:
            return value if b"n" in text.lower() else None  # "1e400" overflows; "inf" is fine
        if value == 0.0 and text.lower().split(b"e")[0].translate(None, b"+-.0"):
            return None  # a non-zero mantissa underflowed to zero
        return value
    got = strtod(text)
    if got is None or got[1] or math.isnan(got[0]):
        return None
    return got[0]


def _score_bound(text: bytes) -> tuple[float, bool] | None:
    excl = text[:1] == b"("
    got = strtod(text[1:] if excl else text)
    if got is None or math.isnan(got[0]):
        return None
    return got[0], excl


def parse_score_range(min_: bytes, max_: bytes) -> ScoreRange | None:
    """zslParseRange: '(' makes a bound exclusive; strtod rules (so '(' alone means 0)."""
    lo = _score_bound(min_)
    hi = _score_bound(max_)
    if lo is None or hi is None:
        return None
    return lo[0], lo[1], hi[0], hi[1]


def _lex_bound(text: bytes) -> tuple[int, bytes, bool] | None:
    first = text[:1]
    if first == b"+" and len(text) == 1:
        return 1, b"", False
    if first == b"-" and len(text) == 1:
        return -1, b"", False
    if first == b"(":
        return 0, text[1:], True
    if first == b"[":
        return 0, text[1:], False
    return None


def parse_lex_range(min_: bytes, max_: bytes) -> LexRange | None:
    lo = _lex_bound(min_)
    hi = _lex_bound(max_)
    if lo is None or hi is None:
        return None
    return lo + hi


def lex_empty(rng: LexRange) -> bool:
    """Ranges that are empty whatever the set holds (min above max, or equal with an open end)."""
    lk, lv, lex_, hk, hv, hex_ = rng
    if lk == hk and lk != 0:
        cmp = 0
    elif lk == 1 or hk == -1:
        cmp = 1
    elif lk == -1 or hk == 1:
        cmp = -1
    else:
        cmp = (lv > hv) - (lv < hv)
    return cmp > 0 or (cmp == 0 and (lex_ or hex_))


def gte_min(member: bytes, rng: LexRange) -> bool:
    kind = rng[0]
    if kind:
        return kind < 0
    return member > rng[1] if rng[2] else member >= rng[1]


def lte_max(member: bytes, rng: LexRange) -> bool:
    kind = rng[3]
    if kind:
        return kind > 0
    return member < rng[4] if rng[5] else member <= rng[4]


# --- set algebra ---------------------------------------------------------------------------------
def _members(src: ZSet | set) -> Iterable[tuple[bytes, float]]:
    """A source's (member, score) pairs; a plain set counts every member with score 1."""
    if src.__class__ is ZSet:
        return src.scores.items()  # type: ignore[union-attr]
    return ((m, 1.0) for m in src)


def _lookup(src: ZSet | set, member: bytes) -> float | None:
    if src.__class__ is ZSet:
        return src.scores.get(member)  # type: ignore[union-attr]
    return 1.0 if member in src else None


def _aggregate(target: float, value: float, how: bytes) -> float:
    if how == b"sum":
        total = target + value
        return 0.0 if total != total else total  # inf + -inf is 0 by Redis's convention
    if how == b"min":
        return value if value < target else target
    return value if value > target else target


def combine(op: str, sources: list[ZSet | set | None], weights: list[float], how: bytes, limit: int = 0) -> dict[bytes, float]:
    """ZUNION/ZINTER/ZDIFF as zunionInterDiffGenericCommand computes them: member → score.

    Sources are visited smallest first (a stable sort, like glibc's qsort), so floating-point sums
    are added in the same order as Redis adds them. `limit` stops an intersection early (ZINTERCARD).
    """
    srcs = [(s if s is not None else set(), w) for s, w in zip(sources, weights, strict=True)]
    out: dict[bytes, float] = {}
    if op == "diff":
        first = srcs[0][0]
        others = [s for s, _ in srcs[1:] if s]
        for member, score in _members(first):
            if not any(_lookup(o, member) is not None for o in others):
                out[member] = score
        return out
    srcs.sort(key=lambda sw: len(sw[0]))
    if op == "inter":
        if not srcs[0][0]:
            return out
        first, w0 = srcs[0]
        rest = srcs[1:]
        for member, score in _members(first):
            total = w0 * score
            if total != total:
                total = 0.0
            for other, w in rest:
                value = _lookup(other, member)
                if value is None:
                    break
                value *= w
                if value != value:
                    value = 0.0
                total = _aggregate(total, value, how)
            else:
                out[member] = total
                if limit and len(out) >= limit:
                    break
        return out
    for src, w in srcs:
        for member, score in _members(src):
            value = w * score
            if value != value:
                value = 0.0
            old = out.get(member)
            out[member] = value if old is None else _aggregate(old, value, how)
    return out
