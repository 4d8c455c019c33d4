"""Server commands: INFO, CONFIG, TIME, DEBUG (SLEEP, OBJECT), SHUTDOWN, LOLWUT-free essentials."""

from __future__ import annotations

import time

from respdb import errors
from respdb.commands.args import to_float
from respdb.commands.generic import encoding_of
from respdb.commands.registry import command
from respdb.config import ConfigError, param
from respdb.errors import CommandError, err
from respdb.persistence import rdb_size
from respdb.protocol.types import OK, Map, Simple, Verbatim
from respdb.server.client import Client
from respdb.server.info import render
from respdb.storage.keyspace import LFU_INIT_VAL, TYPE_NAMES, LFUCounters, now_ms


@command("info")
def info(ctx: Client, *sections: bytes) -> object:
    text = render(ctx.server, [s.decode("latin-1") for s in sections])
    # Sections end in CRLF and are separated by a blank line; nothing follows the last one (Redis).
    return Verbatim(text.encode())


@command("config|get")
def config_get(ctx: Client, *patterns: bytes) -> Map:
    out: dict[str, str] = {}
    for pattern in patterns:
        for name, value in ctx.server.config.matching(pattern.decode("latin-1")):
            out[name] = value
    flat = Map()
    for name, value in out.items():
        flat += [name.encode(), value.encode()]
    return flat


@command("config|set")
def config_set(ctx: Client, *args: bytes) -> object:
    if len(args) % 2:
        raise CommandError(errors.WRONG_ARGS.format(name="config|set"))
    pairs = [(args[i].decode("latin-1"), args[i + 1].decode("utf-8", "surrogateescape")) for i in range(0, len(args), 2)]
    ctx.server.config.set_many(pairs)
    return OK


@command("config|resetstat")
def config_resetstat(ctx: Client) -> object:
    ctx.server.reset_stats()
    return OK


@command("config|rewrite")
def config_rewrite(ctx: Client) -> object:
    path = ctx.server.config.config_file
    if not path:
        raise err("The server is running without a config file")
    try:
        ctx.server.config.rewrite(path)
    except OSError as exc:
        raise err(f"Rewriting config file: {exc.strerror}") from None
    return OK


@command("config|help")
def config_help(ctx: Client) -> object:
    lines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Print this help.",
    ]
    return [Simple(line.encode()) for line in lines]


@command("role")
def role(ctx: Client) -> list[object]:
    # A respdb server is always a master without replicas.
    return [b"master", 0, []]


@command("readonly")
def readonly(ctx: Client) -> object:
    raise err("This instance has cluster support disabled")


@command("readwrite")
def readwrite(ctx: Client) -> object:
    raise err("This instance has cluster support disabled")


@command("time")
def time_(ctx: Client) -> list[bytes]:
    now = time.time_ns() // 1000
    return [b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)]


param("enable-debug-command", "enum", "no", mutable=False, choices=("no", "yes", "local"))
param("enable-protected-configs", "enum", "no", mutable=False, choices=("no", "yes", "local"))
_DEBUG_REFUSED = (
    'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it '
    "from a local connection, otherwise you need to set this option in the configuration file, and then "
    "restart the server."
)


@command("debug")
def debug(ctx: Client, sub: bytes, *args: bytes) -> object:
    # Off by default, as in Redis 7: DEBUG can stall or crash a server on purpose.
    allowed = ctx.server.config.enable_debug_command
    if allowed == "no" or (allowed == "local" and not ctx.addr.startswith(("127.", "[::1]", "/"))):
        raise CommandError(_DEBUG_REFUSED)
    low = sub.lower()
    if low == b"sleep" and len(args) == 1:
        seconds = to_float(args[0])
        time.sleep(max(0.0, seconds))  # blocks the whole server on purpose, as in Redis
        return OK
    if low == b"object" and len(args) == 1:
        return debug_object(ctx, args[0])
    if low == b"help":
        return [Simple(line.encode()) for line in _DEBUG_HELP]
    raise err(f"unknown subcommand or wrong number of arguments for '{sub.decode('utf-8', 'replace')[:128]}'. Try DEBUG HELP.")


_DEBUG_HELP = [
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
]
_LRU_CLOCK_MAX = (1 << 24) - 1  # Redis's 24-bit object clock, in seconds


def debug_object(ctx: Client, key: bytes) -> Simple:
    """Redis's DEBUG OBJECT line. `Value at` is the object's id(); refcount and encoding as OBJECT
    reports them; serializedlength from persistence/rdb_size.py; lru is the 24-bit clock (seconds)
    of the last access as OBJECT IDLETIME tracks it (under an LFU policy: the LFU field, as Redis
    shows it) and lru_seconds_idle Redis's estimateObjectIdleTime over that field."""
    db = ctx.db
    value = db.peek(key)  # no access-time update: DEBUG OBJECT reads the dict directly in Redis
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    type_name = TYPE_NAMES[value.__class__]
    encoding = encoding_of(ctx, value, key)
    refcount = 2147483647 if encoding == b"int" and _shared_integer(ctx, value) else 1
    ks = ctx.keyspace
    ks.enable_tracking()
    now_clock = (now_ms() // 1000) & _LRU_CLOCK_MAX
    if isinstance(db.access, LFUCounters):
        lru = db.access.get(key, ((now_ms() // 60000 & 0xFFFF) << 8) | LFU_INIT_VAL)
    else:
        lru = (db.access.get(key, ks.start_clock) // 1000) & _LRU_CLOCK_MAX
    idle = now_clock - lru if now_clock >= lru else now_clock + (_LRU_CLOCK_MAX - lru)
    line = (
        f"Value at:{hex(id(value))} refcount:{refcount} encoding:{encoding.decode()} "
        f"serializedlength:{rdb_size.value_size(value, type_name, encoding)} lru:{lru} lru_seconds_idle:{idle}"
    )
    if type_name == b"list":
        nodes, count, size = rdb_size.quicklist_info(value)
        avg = count / nodes if nodes else float("nan")
        # fill -2 (8 KB nodes) and no compression depth: Redis's defaults, which respdb does not vary.
        line += f" ql_nodes:{nodes} ql_avg_node:{avg:.2f} ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:{size}"
    return Simple(line.encode())


def _shared_integer(ctx: Client, value: bytes) -> bool:
    """Redis shares the objects of the integers 0..9999 (refcount INT_MAX), except under a maxmemory
    with an LRU/LFU policy, which needs a clock per object (judged by the policy now, not at write)."""
    cfg = ctx.server.config
    if cfg.maxmemory and cfg.maxmemory_policy.endswith(("lru", "lfu")):
        return False
    return len(value) <= 4 and value.isdigit() and (value == b"0" or value[:1] != b"0")


@command("shutdown")
def shutdown(ctx: Client, *args: bytes) -> object:
    nosave = save = now = force = abort = False
    for arg in args:
        low = arg.lower()
        if low == b"nosave":
            nosave = True
        elif low == b"save":
            save = True
        elif low == b"now":
            now = True
        elif low == b"force":
            force = True
        elif low == b"abort":
            abort = True
        else:
            raise CommandError(errors.SYNTAX)
    if (abort and (nosave or save or now or force)) or (nosave and save):
        raise CommandError(errors.SYNTAX)
    if abort:
        raise err("No shutdown in progress.")
    try:
        ctx.server.prepare_shutdown(save=save, nosave=nosave, force=force)
    except ConfigError as exc:
        raise err(str(exc)) from None
    ctx.server.request_shutdown()
    # Like Redis, a successful SHUTDOWN sends no reply: the connection just closes.
    from respdb.commands.dispatch import NO_REPLY

    ctx.close_after_reply = True
    return NO_REPLY
