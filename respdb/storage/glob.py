"""Glob matching as Redis's stringmatchlen: `*`, `?`, `[abc]`, `[^a-z]`, `\\x` escapes.

The pattern is split at `*` into segments of fixed length; each segment is a small regex without
stars, matched leftmost-first in order. That is linear-ish per segment and never backtracks
exponentially on patterns like `a*a*a*a*a*b`, which Redis guards against too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache


def _segments(pattern: bytes, nocase: bool) -> list[re.Pattern[bytes]] | None:
    segs: list[bytes] = []
    cur = bytearray()
    i, n = 0, len(pattern)
    out: list[bytes] = []
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # *
            out.append(bytes(cur))
            cur = bytearray()
            while i < n and pattern[i] == 0x2A:
                i += 1
            continue
        if c == 0x3F:  # ?
            cur += b"."
        elif c == 0x5C and i + 1 < n:  # \x
            i += 1
            cur += re.escape(pattern[i : i + 1])
        elif c == 0x5B:  # [
            i += 1
            negate = i < n and pattern[i] == 0x5E
            if negate:
                i += 1
            items = bytearray()
            while i < n and pattern[i] != 0x5D:
                if pattern[i] == 0x5C and i + 1 < n:
                    i += 1
                    items += re.escape(pattern[i : i + 1])
                elif i + 2 < n and pattern[i + 1] == 0x2D and pattern[i + 2] != 0x5D:
                    lo, hi = sorted((pattern[i], pattern[i + 2]))
                    items += b"%s-%s" % (re.escape(bytes([lo])), re.escape(bytes([hi])))
                    i += 2
                else:
                    items += re.escape(pattern[i : i + 1])
                i += 1
            if not items:
                cur += b"(?!)" if not negate else b"."
            else:
                cur += b"[" + (b"^" if negate else b"") + bytes(items) + b"]"
        else:
            cur += re.escape(pattern[i : i + 1])
        i += 1
    out.append(bytes(cur))
    segs = out
    flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
    return [re.compile(s, flags) for s in segs]


@lru_cache(maxsize=256)
def compile_glob(pattern: bytes, nocase: bool = False) -> Callable[[bytes], bool]:
    """A predicate `match(subject) -> bool` for a Redis glob pattern."""
    if pattern == b"*":
        return lambda s: True
    segs = _segments(pattern, nocase)
    assert segs is not None
    if len(segs) == 1:
        only = segs[0]
        return lambda s: only.fullmatch(s) is not None
    first, middle, last = segs[0], segs[1:-1], segs[-1]

    def match(s: bytes) -> bool:
        m = first.match(s)
        if m is None:
            return False
        pos = m.end()
        for seg in middle:
            m = seg.search(s, pos)
            if m is None:
                return False
            pos = m.end()
        # The last segment is anchored at the end and must not overlap what came before.
        tail = last.search(s, pos) if last.pattern else None
        if not last.pattern:
            return True
        while tail is not None:
            if tail.end() == len(s):
                return True
            tail = last.search(s, tail.start() + 1)
        return False

    return match


def glob_match(pattern: bytes, subject: bytes, nocase: bool = False) -> bool:
    return compile_glob(pattern, nocase)(subject)
