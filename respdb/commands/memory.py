"""MEMORY USAGE/STATS/DOCTOR/MALLOC-STATS/PURGE/HELP and OBJECT FREQ/IDLETIME.

Sizes come from server/memory.py's accounting (sampled deep sizes of Python objects), so they are
respdb's own bytes, not Redis's; the shapes, field names, texts and errors are Redis 7.0's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import struct
from sys import getsizeof
from typing import TYPE_CHECKING

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.registry import command
from respdb.errors import CommandError
from respdb.protocol.types import OK, Double, Map, Simple, Verbatim
from respdb.server.info import rss_bytes
from respdb.server.memory import key_usage

if TYPE_CHECKING:
    from respdb.server.client import Client

_DOCTOR_EMPTY = (
    "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in "
    "these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and "
    "I will be back to our programming as soon as I finished rebooting.\n"
)
_DOCTOR_FINE = (
    "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
)
_DOCTOR_PEAK = (
    " * Peak memory: In the past this instance used more than 150% the memory that is currently using. "
    "The allocator is normally not able to release memory after a peak, so you can expect to see a big "
    "fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the "
    "Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as "
    "soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want "
    "to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to "
    "shutdown and restart the instance.\n\n"
)
_DOCTOR_FRAG = (
    " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this "
    "means that the Resident Set Size of the Redis process is much larger than the sum of the logical "
    "allocations Redis performed). This problem is usually due either to a large peak memory (check if there "
    "is a peak memory entry above in the report) or may result from a workload that causes the allocator to "
    "fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make "
    "sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used "
    'allocator is "pymalloc".\n\n'
)
_DOCTOR_CLIENTS = (
    " * Big client buffers: The clients output buffers in this instance are greater than 200K per client "
    "(on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not "
    "receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending "
    "commands with large replies or very large sequences of commands in the same pipeline. Please use the "
    "CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to "
    "understand better why certain clients are using a big amount of memory.\n\n"
)
_DOCTOR_SCRIPTS = (
    " * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be "
    "because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), "
    "`SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may "
    "end up consuming most of your memory.\n\n"
)
_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
]


def _float32(x: float) -> Double:
    # Redis computes these ratios in single precision and prints the float widened to double.
    return Double(struct.unpack("f", struct.pack("f", x))[0])


@command("memory|usage")
def memory_usage(ctx: Client, key: bytes, *opts: bytes) -> object:
    samples = 5
    i = 0
    while i < len(opts):
        if opts[i].lower() == b"samples" and i + 1 < len(opts):
            samples = to_int(opts[i + 1])
            if samples < 0:
                raise CommandError(errors.SYNTAX)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    # Redis finds the entry without lazy expiry or touching it (dbFind): a logically expired key not
    # yet reclaimed still has a size.
    value = ctx.db.data.get(key)
    if value is None:
        return None
    return key_usage(ctx.db, key, value, samples)


def _script_count(ctx: Client) -> int:
    scripts = getattr(getattr(ctx.server, "scripting", None), "scripts", None)
    return len(scripts) if isinstance(scripts, dict) else 0


@command("memory|stats")
def memory_stats(ctx: Client) -> object:
    server = ctx.server
    mem = server.memory  # type: ignore[attr-defined]
    mem.resample()
    used = server.used_memory()
    startup = mem.baseline
    peak = max(mem.peak, used)
    rss = rss_bytes()
    out: list[object] = [
        b"peak.allocated", peak,
        b"total.allocated", used,
        b"startup.allocated", startup,
        b"replication.backlog", 0,
        b"clients.slaves", 0,
        b"clients.normal", 0,
        b"cluster.links", 0,
        b"aof.buffer", 0,
        b"lua.caches", 0,
        b"functions.caches", 0,
    ]
    overhead = startup
    keys = 0
    for db in ctx.keyspace.dbs:
        if not db.data:
            continue
        keys += len(db.data)
        main = getsizeof(db.data) + getsizeof(db.access)
        expires = getsizeof(db.expires) if db.expires else 0
        overhead += main + expires
        out += [
            b"db.%d" % db.id,
            Map([b"overhead.hashtable.main", main, b"overhead.hashtable.expires", expires,
                 b"overhead.hashtable.slot-to-keys", 0]),
        ]
    net = used - startup if used > startup else 1
    dataset = used - overhead
    out += [
        b"overhead.total", overhead,
        b"keys.count", keys,
        b"keys.bytes-per-key", net // keys if keys else 0,
        b"dataset.bytes", dataset,
        b"dataset.percentage", _float32(dataset * 100 / net),
        b"peak.percentage", _float32(used * 100 / peak),
        # pymalloc keeps no allocated/active/resident split: the allocator is the whole process.
        b"allocator.allocated", used,
        b"allocator.active", used,
        b"allocator.resident", rss,
        b"allocator-fragmentation.ratio", _float32(1.0),
        b"allocator-fragmentation.bytes", 0,
        b"allocator-rss.ratio", _float32(rss / used),
        b"allocator-rss.bytes", rss - used,
        b"rss-overhead.ratio", _float32(1.0),
        b"rss-overhead.bytes", 0,
        b"fragmentation", _float32(rss / used),
        b"fragmentation.bytes", rss - used,
    ]
    return Map(out)


@command("memory|doctor")
def memory_doctor(ctx: Client) -> object:
    server = ctx.server
    mem = server.memory  # type: ignore[attr-defined]
    used = server.used_memory()
    dataset = used - mem.baseline
    # Redis calls an instance under 5 MB empty; ours has an interpreter under it, so the dataset is
    # what is compared.
    if dataset < 5 * 1024 * 1024:
        return Verbatim(_DOCTOR_EMPTY.encode())
    reports = []
    if max(mem.peak, used) / used > 1.5:
        reports.append(_DOCTOR_PEAK)
    rss = rss_bytes()
    if rss / used > 1.4 and rss - used > 10 << 20:
        reports.append(_DOCTOR_FRAG)
    if _script_count(ctx) > 1000:
        reports.append(_DOCTOR_SCRIPTS)
    if not reports:
        return Verbatim(_DOCTOR_FINE.encode())
    text = "Sam, I detected a few issues in this Redis instance memory implants:\n\n"
    text += "".join(reports) + "I'm here to keep you safe, Sam. I want to help you.\n"
    return Verbatim(text.encode())


@command("memory|malloc-stats")
def memory_malloc_stats(ctx: Client) -> object:
    return b"Stats not supported for the current allocator"


def _malloc_trim() -> None:
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to give back
        return
    trim(0)


@command("memory|purge")
def memory_purge(ctx: Client) -> object:
    # Collect reference cycles, then let glibc return free heap pages to the system (jemalloc's
    # purge in Redis); pymalloc frees its empty arenas on its own.
    gc.collect()
    _malloc_trim()
    return OK


@command("memory|help")
def memory_help(ctx: Client) -> object:
    return [Simple(line.encode()) for line in _HELP]


@command("object|idletime")
def object_idletime(ctx: Client, key: bytes) -> object:
    db = ctx.db
    if db.peek(key, miss_event=False) is None:
        return None
    if ctx.keyspace.lfu is not None:
        raise CommandError(errors.IDLETIME_UNDER_LFU)
    return ctx.server.memory.idle_seconds(db, key)  # type: ignore[attr-defined]


@command("object|freq")
def object_freq(ctx: Client, key: bytes) -> object:
    db = ctx.db
    if db.peek(key, miss_event=False) is None:
        return None
    if ctx.keyspace.lfu is None:
        raise CommandError(errors.FREQ_WITHOUT_LFU)
    return ctx.server.memory.frequency(db, key)  # type: ignore[attr-defined]
