"""Per-command latency histograms (Redis 7's `latency-tracking`: INFO latencystats, LATENCY HISTOGRAM).

A histogram is a dict bucket → count, sparse because most calls of a command fall in a few buckets.
Buckets are log-linear like Redis's hdr_histogram: durations below 128 ns get one bucket each, above
that each power of two is split into 64 sub-buckets, so a bucket's width is under 1.6% of its value
(Redis keeps 2 significant digits). Recording is one dict update on the dispatch path.
"""

from __future__ import annotations

SUB_BITS = 7  # 2**7 = 128: values below it are exact; above, 64 sub-buckets per power of two
_HALF = 1 << (SUB_BITS - 1)


def bucket_of(ns: int) -> int:
    """The bucket index of a duration in nanoseconds (monotonic in ns, contiguous from 0)."""
    if ns < (1 << SUB_BITS):
        return ns if ns > 0 else 0
    shift = ns.bit_length() - SUB_BITS
    return shift * _HALF + (ns >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The [low, high] nanoseconds a bucket covers (inclusive)."""
    if index < (1 << SUB_BITS):
        return index, index
    shift = index // _HALF - 1
    low = (index - shift * _HALF) << shift
    return low, low + (1 << shift) - 1


# --- reading a histogram as Redis's hdr_histogram reports it ------------------------------------
# Redis records nanoseconds in an hdr_histogram with 2 significant digits (128 sub-buckets per power
# of two) and reports "highest equivalent values": the top of the bucket a value fell in.
_REDIS_SUB_BUCKETS = 128
# LATENCY HISTOGRAM walks the levels 1024 ns, 2048 ns, ... 2**30 ns with hdr's log iterator. Redis
# clamps what it records to [1 ns, 1 s], so its histogram ends with the bucket [2**30 - 2**22, 2**30):
# the last level is reported at that bucket, labelled (2**30 - 1) // 1000 µs, and counts every call.
_FIRST_LEVEL_NS = 1024
_LAST_LEVEL_NS = 1 << 29  # the last level below the end of Redis's histogram
_END_LABEL_USEC = ((1 << 30) - 1) // 1000
# Percentiles of calls of 1 s or more: Redis recorded them as 1 s, whose bucket tops out here.
_CLAMPED_NS = 1_000_000_000
_CLAMPED_HIGH_NS = 1_002_438_655


def _redis_level_usec(level_ns: int) -> int:
    """The µs label Redis prints for a power-of-two level: its hdr bucket's highest value / 1000."""
    return (level_ns + max(1, level_ns // _REDIS_SUB_BUCKETS) - 1) // 1000


def cumulative(hist: dict[int, int]) -> list[tuple[int, int]]:
    """LATENCY HISTOGRAM's histogram_usec: (µs, calls at or below it) at power-of-two levels from
    1024 ns, listing a level only when the cumulative count grew since the previous one (as Redis's
    fillCommandCDF does). A level counts every bucket that starts at or below it; the last one, every
    call."""
    if not hist:
        return []
    ordered = sorted(hist.items())
    out: list[tuple[int, int]] = []
    i, n, running, previous = 0, len(ordered), 0, 0
    level = _FIRST_LEVEL_NS
    while level <= _LAST_LEVEL_NS and i < n:
        top = bucket_of(level)
        while i < n and ordered[i][0] <= top:
            running += ordered[i][1]
            i += 1
        if running > previous:
            out.append((_redis_level_usec(level), running))
            previous = running
        level <<= 1
    total = sum(hist.values())
    if total > previous:
        out.append((_END_LABEL_USEC, total))
    return out


def value_at_percentile(hist: dict[int, int], percentile: float) -> int:
    """hdr_value_at_percentile in ns: the highest value of the bucket holding the call at that rank
    (the lowest value for the 0th percentile), 0 for an empty histogram."""
    total = sum(hist.values())
    if not total:
        return 0
    wanted = max(1, int(min(percentile, 100.0) / 100 * total + 0.5))
    seen = 0
    for index, count in sorted(hist.items()):
        seen += count
        if seen >= wanted:
            low, high = bucket_bounds(index)
            value = low if percentile == 0.0 else high
            return _CLAMPED_HIGH_NS if value >= _CLAMPED_NS else value
    return 0


def format_percentile(p: float) -> str:
    """A percentile as Redis prints it in INFO and CONFIG GET: "%f" less trailing zeros (99.9, 50)."""
    text = f"{p:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def percentiles_line(hist: dict[int, int], percentiles: list[float]) -> str:
    """The value of an INFO latencystats line: p50=1.003,p99=2.007,... in µs with 3 decimals."""
    return ",".join(f"p{format_percentile(p)}={value_at_percentile(hist, p) / 1000.0:.3f}" for p in percentiles)
