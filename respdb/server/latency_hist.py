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
