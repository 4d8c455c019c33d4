"""Argument parsing shared by handlers: integers, floats, timeouts and option words as Redis reads them."""

from __future__ import annotations

import math
import time
from decimal import Decimal, InvalidOperation

from respdb import errors
from respdb.errors import CommandError

LLONG_MIN, LLONG_MAX = -(2**63), 2**63 - 1


def to_int(arg: bytes, error: str = errors.NOT_INTEGER) -> int:
    """Redis's string2ll: optional '-', digits, no spaces/'+'/leading zeros, within a signed 64-bit."""
    if arg.isdigit() and (arg[:1] != b"0" or len(arg) == 1) and len(arg) < 19:
        return int(arg)
    body = arg[1:] if arg[:1] == b"-" else arg
    if not body.isdigit() or (body[:1] == b"0" and (len(body) > 1 or arg[:1] == b"-")) or len(arg) > 20:
        raise CommandError(error)
    value = int(arg)
    if not LLONG_MIN <= value <= LLONG_MAX:
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


def incr_float(current: bytes | None, increment: bytes, not_float: str) -> bytes:
    """INCRBYFLOAT / HINCRBYFLOAT: the new value as Redis prints it (%.17Lf, trailing zeros trimmed).

    Redis adds in 80-bit long double; Decimal arithmetic on the decimal strings gives the same digits
    for the values people store (0.1 + 0.2 → 0.3, where a C double would print 0.30000000000000004).
    """
    base = to_float(current, not_float) if current is not None else 0.0
    incr = to_float(increment)
    result = base + incr
    if math.isnan(result) or math.isinf(result):
        raise CommandError(errors.INCR_NAN)
    try:
        exact = (Decimal(current.decode()) if current is not None else Decimal(0)) + Decimal(increment.decode())
    except (InvalidOperation, UnicodeDecodeError):
        exact = Decimal(result)
    text = format(exact.quantize(Decimal(1).scaleb(-17)) if abs(exact) < Decimal(10) ** 20 else exact, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.encode()


def to_timeout(arg: bytes) -> float | None:
    """Blocking-command timeout in seconds → absolute monotonic deadline (None = wait forever)."""
    try:
        value = float(arg)
    except ValueError:
        raise CommandError(errors.TIMEOUT_INVALID) from None
    if math.isnan(value) or math.isinf(value) or b"_" in arg:
        raise CommandError(errors.TIMEOUT_INVALID)
    if value < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    if value == 0:
        return None
    return time.monotonic() + value


def lower(arg: bytes) -> bytes:
    return arg.lower()
