"""Which commands count keyspace_hits/keyspace_misses: the ones whose keys Redis looks up with lookupKeyRead.

Redis 7.0 counts a hit or a miss in lookupKey() (db.c) for every lookup made without LOOKUP_WRITE or
LOOKUP_NOSTATS, i.e. through lookupKeyRead / lookupKeyReadWithFlags / lookupKeyReadOrReply; lookupKeyWrite
(SET, INCR, LPUSH, ...) and direct dictFind (MEMORY USAGE, KEYS, SCAN, RANDOMKEY, DEBUG) never count.
Dispatch sets `Keyspace.reading = spec.reads` before a handler runs and Database.get/peek count while
it is true, so the table below only says which commands read; each lookup their handler makes counts.

The table was derived from the Redis 7.0 sources named in the comments and checked command by command
against redis-server 7.0.15 (INFO stats before/after each command; tests/test_keyspace_stats.py keeps
that comparison running). Per-key exceptions inside a reading command are the handler's business: a key
it only writes is looked up with Database.lookup_write (never counted), e.g. SET without GET.
"""

from __future__ import annotations

from respdb.commands.registry import COMMANDS

READ_COMMANDS: frozenset[str] = frozenset(
    {
        # t_string.c: getGenericCommand (GET, GETSET, GETDEL, and SET ... GET only — strings.py looks
        # the key up uncounted otherwise), getexCommand, getrangeCommand, strlenCommand, mgetCommand
        # (each key), lcsCommand (both keys).
        "get", "set", "getset", "getdel", "getex", "getrange", "substr", "strlen", "mget", "lcs",
        # bitops.c: getbitCommand, bitcountCommand, bitposCommand, bitopCommand (each source key, not
        # the destination), bitfieldGeneric (lookupKeyRead only when every operation is a GET).
        "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro",
        # hyperloglog.c: pfcountCommand (each key), pfmergeCommand (every key, the destination too).
        "pfcount", "pfmerge",
        # t_hash.c: lookupKeyReadOrReply in the read commands.
        "hget", "hmget", "hlen", "hstrlen", "hexists", "hgetall", "hkeys", "hvals", "hrandfield", "hscan",
        # t_list.c: llenCommand, lindexCommand, lrangeCommand, lposCommand.
        "llen", "lindex", "lrange", "lpos",
        # t_set.c: the read commands, and sinterGenericCommand / sunionDiffGenericCommand for every
        # source key, in the STORE variants too (the destination is written with setKey/dbDelete).
        "scard", "sismember", "smismember", "smembers", "srandmember", "sscan",
        "sinter", "sunion", "sdiff", "sintercard", "sinterstore", "sunionstore", "sdiffstore",
        # t_zset.c: the read commands; zrangeGenericCommand (ZRANGESTORE's source);
        # zunionInterDiffGenericCommand for every source key, STORE variants included.
        "zscore", "zmscore", "zcard", "zrank", "zrevrank", "zcount", "zlexcount", "zrange", "zrangebyscore",
        "zrevrangebyscore", "zrangebylex", "zrevrangebylex", "zrevrange", "zrandmember", "zscan", "zrangestore",
        "zunion", "zinter", "zdiff", "zintercard", "zunionstore", "zinterstore", "zdiffstore",
        # geo.c: geoposCommand, geodistCommand, geohashCommand, georadiusGeneric (the source key, with
        # STORE/STOREDIST too).
        "geopos", "geodist", "geohash", "georadius", "georadius_ro", "georadiusbymember",
        "georadiusbymember_ro", "geosearch", "geosearchstore",
        # t_stream.c: xlenCommand, xrangeGenericCommand, xreadCommand (each stream looked up twice: once
        # resolving its ID, once serving it), xpendingCommand, xinfoCommand, xackCommand,
        # xclaimCommand, xautoclaimCommand.
        "xlen", "xrange", "xrevrange", "xread", "xreadgroup", "xpending",
        "xinfo|stream", "xinfo|groups", "xinfo|consumers", "xack", "xclaim", "xautoclaim",
        # db.c / expire.c / object.c / cluster.c / sort.c: existsCommand, typeCommand,
        # ttlGenericCommand, touchCommand, copyCommand (the source), objectCommandLookup, dumpCommand,
        # sortCommandGeneric (the sorted key, and every BY/GET pattern key via lookupKeyByPattern).
        "exists", "type", "ttl", "pttl", "expiretime", "pexpiretime", "touch", "copy",
        "object|encoding", "object|refcount", "object|idletime", "object|freq", "dump", "sort", "sort_ro",
    }
)


def mark_read_commands() -> None:
    """Set `spec.reads` on every registered command of READ_COMMANDS (run once all modules are loaded;
    a command respdb does not implement is simply skipped)."""
    for name in READ_COMMANDS:
        if "|" in name:
            parent_name, sub_name = name.split("|", 1)
            parent = COMMANDS.get(parent_name)
            spec = parent.subcommands.get(sub_name) if parent is not None else None
        else:
            spec = COMMANDS.get(name)
        if spec is not None:
            spec.reads = True
