"""SORT and SORT_RO (Redis's sort.c) over lists, sets and sorted sets.

Follows sortCommandGeneric step by step, including its quirks: weights are read with C's strtod
(leading blanks and hex accepted, a missing weight key counts as 0), numeric ties are broken by
comparing the elements' bytes, ALPHA compares with strcoll (C strings: stops at a NUL byte) unless
STORE is given (then plain byte order), and BY/GET patterns are read as C strings up to any NUL.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from itertools import islice

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.registry import KEY_PROCS, command
from respdb.commands.sets import ordered
from respdb.errors import CommandError, err
from respdb.server.client import Client
from respdb.storage.keyspace import TYPE_NAMES, Database, WrongType
from respdb.storage.quicklist import QuickList

# What strtod consumes whole (after leading white space): decimal, hex float, or inf/infinity.
# NaN parses too, but SORT rejects it, so it is left out here.
_DECIMAL = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX = re.compile(rb"([+-]?)0[xX]((?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?)")
_INF = re.compile(rb"[+-]?(?:inf|infinity)", re.IGNORECASE)
_C_SPACE = b" \t\n\v\f\r"
_MIN_NORMAL = 2.2250738585072014e-308


def strtod_whole(text: bytes) -> float | None:
    """C strtod over the whole string, as SORT uses it; None where Redis reports a conversion error.

    Like glibc it sets ERANGE (an error for SORT) on overflow and on underflow to a subnormal or zero.
    """
    body = text.lstrip(_C_SPACE)
    if not body:
        return 0.0  # strtod converts nothing and stops at the end: score 0, no error
    if _DECIMAL.fullmatch(body):
        value = float(body)
        exact = None if abs(value) >= _MIN_NORMAL else Fraction(body.decode())
    elif m := _HEX.fullmatch(body):
        sign, mantissa = m.group(1).decode(), m.group(2).decode().lower()
        digits, _, exponent = mantissa.partition("p")
        whole, _, frac = digits.partition(".")
        try:
            value = float.fromhex(sign + "0x" + digits + "p" + (exponent or "0"))
        except OverflowError:
            return None
        exact = None
        if abs(value) < _MIN_NORMAL:
            exact = Fraction(int(whole + frac or "0", 16) * (-1 if sign == "-" else 1)) / 16 ** len(frac)
            exact *= Fraction(2) ** int(exponent or "0")
    elif _INF.fullmatch(body):
        return float("-inf") if body[:1] == b"-" else float("inf")
    else:
        return None
    if math.isinf(value):
        return None  # overflow: ERANGE
    if exact is not None and exact != Fraction(value):
        return None  # underflow to a subnormal or zero that is not exact: ERANGE
    return value


def _cstr(data: bytes) -> bytes:
    """The C-string view of bytes: everything before the first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


def lookup_by_pattern(db: Database, pattern: bytes, subst: bytes) -> bytes | None:
    """Redis's lookupKeyByPattern: `#` is the element itself; `*` is replaced by it; `->f` reads a hash."""
    if pattern[:1] == b"#" and (len(pattern) == 1 or pattern[1] == 0):
        return subst
    cpat = _cstr(pattern)
    star = cpat.find(b"*")
    if star < 0:
        return None  # a constant key would give every element the same value: Redis returns nothing
    arrow = cpat.find(b"->", star + 1)
    field = None
    end = len(pattern)
    if arrow >= 0 and arrow + 2 < len(cpat):
        field = pattern[arrow + 2 :]
        end = arrow
    value = db.get(pattern[:star] + subst + pattern[star + 1 : end])
    if value is None:
        return None
    if field is None:
        return value if value.__class__ is bytes else None
    return value.get(field) if value.__class__ is dict else None


def sort_keys(argv: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """Redis's sortGetKeys: the sorted key, and the last STORE destination (options skipped by arity)."""
    keys = [(1, ("RO", "access"))]
    store = None
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    while i < len(argv):
        word = argv[i].lower()
        if word in skip:
            i += skip[word]
        elif word == b"store" and i + 1 < len(argv):
            store = i + 1  # the next word is not skipped, exactly as in Redis
        i += 1
    if store is not None:
        keys.append((store, ("OW", "update")))
    return keys


KEY_PROCS["sort"] = sort_keys


@command("sort")
def sort(ctx: Client, key: bytes, *args: bytes) -> object:
    return _sort(ctx, key, args, readonly=False)


@command("sort_ro")
def sort_ro(ctx: Client, key: bytes, *args: bytes) -> object:
    return _sort(ctx, key, args, readonly=True)


def _sort(ctx: Client, key: bytes, args: tuple[bytes, ...], readonly: bool) -> object:
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    sortby: bytes | None = None
    store: bytes | None = None
    gets: list[bytes] = []
    i, n = 0, len(args)
    while i < n:
        opt = args[i].lower()
        left = n - i - 1
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            limit_start, limit_count = to_int(args[i + 1]), to_int(args[i + 2])
            i += 2
        elif opt == b"store" and not readonly and left >= 1:
            store = args[i + 1]
            i += 1
        elif opt == b"by" and left >= 1:
            sortby = args[i + 1]
            if b"*" not in _cstr(sortby):
                dontsort = True  # a constant weight: nothing to sort (and it stays so, as in Redis)
            i += 1
        elif opt == b"get" and left >= 1:
            gets.append(args[i + 1])
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1

    db = ctx.db
    value = db.get(key)
    kind = b"list" if value is None else TYPE_NAMES.get(value.__class__)
    if kind not in (b"list", b"set", b"zset"):
        raise WrongType()
    if value is None:
        value = ()
    if dontsort and kind == b"set" and (store is not None or _in_script(ctx)):
        # A set's order is arbitrary; what gets stored, or what a script acts on (and is replicated
        # as the script), must not depend on it.
        dontsort, alpha, sortby = False, True, None
    if kind == b"zset":
        # Redis's sortCommandGeneric destructively converts a listpack zset to a skiplist (for good),
        # which OBJECT ENCODING shows afterwards.
        value.big = True  # type: ignore[union-attr]

    size = len(value)
    start = max(limit_start, 0)
    end = size - 1 if limit_count < 0 else start + limit_count - 1
    if start >= size:
        start, end = size - 1, size - 2
    end = min(end, size - 1)

    if dontsort and kind != b"set":
        # Lists and sorted sets keep their own order (reversed for DESC); LIMIT picks a range of it.
        if end < start:
            chosen = []
        elif kind == b"list" and value:
            if desc:  # positions start..end counted from the tail
                chosen = value.range(size - 1 - end, size - start)  # type: ignore[union-attr]
                chosen.reverse()
            else:
                chosen = value.range(start, end + 1)  # type: ignore[union-attr]
        else:
            members = [m for m, _ in value.items()] if kind == b"zset" else []  # type: ignore[union-attr]
            seq = reversed(members) if desc else iter(members)
            chosen = list(islice(seq, start, end + 1))
    else:
        if kind == b"set":
            elements = ordered(ctx.server.config, value)  # type: ignore[arg-type]
        elif kind == b"zset":
            elements = [m for m, _ in value.items()]  # type: ignore[union-attr]
        else:
            elements = list(value)
        if not dontsort:
            elements = _sorted(db, elements, sortby, alpha, desc, store is not None)
        chosen = elements[start : end + 1] if end >= start else []

    if store is None:
        if not gets:
            return chosen
        return [lookup_by_pattern(db, g, el) for el in chosen for g in gets]
    if gets:
        stored = QuickList(lookup_by_pattern(db, g, el) or b"" for el in chosen for g in gets)
    else:
        stored = QuickList(chosen)
    if stored:
        if db.lookup_write(store) is None:
            db.add(store, stored)
        else:
            db.set(store, stored)
        db.changed(store, "l", "sortstore", len(stored))  # one change per element stored, as Redis counts them
        db.signal_ready(store)
    elif db.delete(store):
        db.changed(store, "g", "del")
    return len(stored)


def _in_script(ctx: Client) -> bool:
    """Whether the command runs from a Lua script (Redis's CLIENT_SCRIPT): the engine's own client."""
    engine = getattr(ctx.server, "scripting", None)
    return engine is not None and engine.client is ctx


def _sorted(db: Database, elements: list[bytes], sortby: bytes | None, alpha: bool, desc: bool, storing: bool) -> list[bytes]:
    """sortCompare's order. Python's sort is stable, as glibc's merge-sort qsort is for equal keys."""
    if not alpha:
        keyed = []
        for el in elements:
            if sortby is None:
                weight = el
            else:
                weight = lookup_by_pattern(db, sortby, el)
                if weight is None:
                    keyed.append((0.0, el))
                    continue
            score = strtod_whole(weight)
            if score is None:
                raise err("One or more scores can't be converted into double")
            keyed.append((score, el))
        # Equal scores are ordered by the elements' bytes, so the order is total and DESC a reversal.
        keyed.sort(reverse=desc)
        return [el for _, el in keyed]
    # ALPHA: strcoll (C strings) when replying, byte order when storing; the C.UTF-8/C locales
    # Redis runs in collate by code point, i.e. byte order of the C string.
    text = (lambda b: b) if storing else _cstr
    if sortby is None:
        return sorted(elements, key=text, reverse=desc)
    weights = [lookup_by_pattern(db, sortby, el) for el in elements]
    # A missing weight sorts before any present one.
    order = sorted(
        range(len(elements)),
        key=lambda j: (0, b"") if weights[j] is None else (1, text(weights[j])),  # type: ignore[arg-type]
        reverse=desc,
    )
    return [elements[j] for j in order]
