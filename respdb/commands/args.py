"""Argument parsing shared by handlers: integers, floats, timeouts and option words as Redis reads them."""

from __future__ import annotations

import math
import time
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from fractions import Fraction

from respdb import errors
from respdb.errors import CommandError

LLONG_MIN, LLONG_MAX = -(2**63), 2**63 - 1


def to_int(arg: bytes, error: str = errors.NOT_INTEGER) -> int:
    """Redis's string2ll: optional '-', digits, no spaces/'+'/'_'/leading zeros, signed 64-bit.

    int() is lenient (spaces, '+', '_', leading zeros), so the value must print back as `arg`.
    """
    try:
        value = int(arg)
    except ValueError:
        raise CommandError(error) from None
    if b"%d" % value != arg or not LLONG_MIN <= value <= LLONG_MAX:
        raise CommandError(error)
    return value


def to_float(arg: bytes, error: str = errors.NOT_FLOAT) -> float:
    """Redis's string2ld/strtold: decimal or inf/-inf spellings; no spaces, no NaN."""
    if not arg or arg[:1].isspace() or arg[-1:].isspace():
        raise CommandError(error)
    try:
        value = float(arg)
    except ValueError:
        raise CommandError(error) from None
    if math.isnan(value) or b"_" in arg:
        raise CommandError(error)
    return value


def _long_double(x: Fraction) -> Fraction:
    """Round an exact value to the nearest x87 80-bit long double (64-bit significand, half-even)."""
    if x == 0:
        return x
    sign = -1 if x < 0 else 1
    x = abs(x)
    exp = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** exp > x:
        exp -= 1
    scale = Fraction(2) ** (exp - 63)  # significand in [2^63, 2^64)
    return sign * round(x / scale) * scale


def _parse_long_double(arg: bytes, error: str) -> Fraction | float:
    to_float(arg, error)  # same acceptance rules as Redis's string2ld
    try:
        return _long_double(Fraction(Decimal(arg.decode())))
    except (InvalidOperation, ValueError, OverflowError, UnicodeDecodeError):
        return float(arg)  # inf / -inf


def incr_float(current: bytes | None, increment: bytes, not_float: str) -> bytes:
    """INCRBYFLOAT / HINCRBYFLOAT: the new value exactly as Redis prints it.

    Redis parses both operands with strtold, adds in 80-bit long double and prints with "%.17Lf",
    trimming trailing zeros. Python has no long double, so the arithmetic is done on exact
    fractions rounded to a 64-bit significand at each step, which reproduces Redis's digits.
    """
    base = _parse_long_double(current, not_float) if current is not None else Fraction(0)
    incr = _parse_long_double(increment, errors.NOT_FLOAT)
    if isinstance(base, float) or isinstance(incr, float):
        raise CommandError(errors.INCR_NAN)
    result = _long_double(base + incr)
    if abs(result) > _LDBL_MAX:
        raise CommandError(errors.INCR_NAN)
    with localcontext() as ctx:
        ctx.prec = 6000
        text = format((Decimal(result.numerator) / Decimal(result.denominator)).quantize(Decimal("1e-17"), rounding=ROUND_HALF_EVEN), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.encode()


_LDBL_MAX = Fraction(2) ** 16384


def to_timeout(raw: bytes) -> float | None:
    """Blocking timeout in seconds (Redis reads a long double) → monotonic deadline, None = forever.

    Redis converts to whole milliseconds rounding up, so any positive value waits at least 1 ms, and a
    value too large for a signed 64-bit millisecond count wraps negative ("timeout is negative").
    """
    text = raw.decode("latin-1")
    if not text or text[0].isspace() or text[-1].isspace() or "_" in text or len(text) > 5120:
        raise CommandError(errors.TIMEOUT_INVALID)
    try:
        low = text.lower().lstrip("+-")
        value = Decimal(float.fromhex(text)) if low.startswith("0x") else Decimal(text)
    except (InvalidOperation, ValueError, OverflowError):
        raise CommandError(errors.TIMEOUT_INVALID) from None
    if value.is_nan():
        raise CommandError(errors.TIMEOUT_INVALID)
    ms = value * 1000
    if ms < 0 or ms >= 2**63:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    ms_int = math.ceil(ms)
    if ms_int == 0:
        return None
    seconds = ms_int / 1000
    if seconds > _MAX_TIMER_S:
        return None  # beyond what an event-loop timer can hold (~10 years): wait forever
    return time.monotonic() + seconds


_MAX_TIMER_S = 10 * 365 * 86400




def parse_mpop(args: tuple[bytes, ...], first: bytes, second: bytes) -> tuple[list[bytes], bool, int]:
    """`numkeys key... FIRST|SECOND [COUNT n]` of [B]LMPOP (LEFT|RIGHT) and [B]ZMPOP (MIN|MAX)
    → (keys, whether SECOND was given, count), raising Redis's errors in Redis's order."""
    numkeys = to_int(args[0], errors.NUMKEYS_POSITIVE)
    if numkeys < 1:
        raise CommandError(errors.NUMKEYS_POSITIVE)
    where = numkeys + 1
    if where >= len(args):
        raise CommandError(errors.SYNTAX)
    word = args[where].lower()
    if word not in (first, second):
        raise CommandError(errors.SYNTAX)
    count = -1
    j = where + 1
    while j < len(args):
        if count == -1 and args[j].lower() == b"count" and j + 1 < len(args):
            count = to_int(args[j + 1], errors.COUNT_POSITIVE)
            if count < 1:
                raise CommandError(errors.COUNT_POSITIVE)
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    return list(args[1:where]), word == second, 1 if count == -1 else count


def clip_range(start: int, end: int, n: int) -> tuple[int, int]:
    """Redis's index sanitising for LRANGE/LTRIM/ZRANGE: negative counts from the end; the half-open
    [lo, hi) it selects, or (0, 0) when empty."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return 0, 0
    if end >= n:
        end = n - 1
    return start, end + 1
