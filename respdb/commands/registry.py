"""The command table: one CommandSpec per command and subcommand, built from Redis 7's own metadata.

`redis7_commands.json` (captured from redis-server 7.0.15 by tools/dump_command_table.py) gives arity,
flags, key positions, ACL categories, tips, key specs and docs, so COMMAND, COMMAND INFO/DOCS and the
arity errors agree with Redis by construction. `@command("get")` binds a handler to that row; a command
Redis 7.0 lacks (e.g. CLIENT SETINFO, from 7.2) passes its metadata explicitly. Only registered commands
exist: anything else answers `ERR unknown command`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_DATA_FILE = Path(__file__).with_name("redis7_commands.json")
_REDIS_TABLE: dict[str, dict[str, Any]] = json.loads(_DATA_FILE.read_text())


def _tagged_set(value: Any) -> list[str]:
    return [x["+"] if isinstance(x, dict) else x for x in value["~"]]


@dataclass(eq=False, slots=True)
class CommandSpec:
    name: str  # lower case; subcommands as "client|kill"
    arity: int  # Redis convention: n = exactly n, -n = at least n (command name included)
    flags: frozenset[str]
    first_key: int
    last_key: int
    key_step: int
    handler: Callable[..., Any] | None = None
    info: list[Any] | None = None  # the tagged COMMAND INFO row
    docs: dict[str, Any] | None = None  # the tagged COMMAND DOCS map
    subcommands: dict[str, CommandSpec] = field(default_factory=dict)
    parent: CommandSpec | None = None
    acl_categories: frozenset[str] = frozenset()
    # Hot-path booleans, precomputed from flags.
    write: bool = False
    noauth: bool = False
    denyoom: bool = False  # refused (after eviction) while used memory is over maxmemory
    simple: bool = False  # a top-level command with a handler and no subcommands (dispatch fast path)
    # Not @admin/@dangerous/@transaction/@pubsub nor HELLO/RESET/AUTH/QUIT: a command that changes
    # neither server settings (CONFIG, MONITOR, CLIENT PAUSE) nor the connection's state (protocol,
    # MULTI, subscriptions, closing), so the C dispatch loop keeps its per-batch view of them across it.
    data_only: bool = False
    # data_only and not @scripting: nothing it runs reads INFO's counters (commandstats, latency,
    # dirty, keyspace hits/misses), so the C loop may add its own counts to them after it runs.
    stats_later: bool = False
    # Per-command statistics (INFO commandstats).
    calls: int = 0
    usec: float = 0.0
    failed_calls: int = 0
    rejected_calls: int = 0
    # Latency histogram (server/latency_hist.py buckets → count), recorded while latency-tracking is on.
    latency: dict[int, int] = field(default_factory=dict)
    # Counts keyspace_hits/misses for the keys it looks up (Redis's lookupKeyRead commands).
    reads: bool = False
    # Number of the C version of the handler's common case in respdb/_native.c (0: none); set by
    # dispatch.py when the extension is loaded. The C loop tries it first and runs `handler` when it
    # passes.
    native: int = 0

    def key_positions(self, argv: list[bytes]) -> list[int]:
        """Positions of the key arguments in argv, found through Redis's key specs (which also
        cover commands with movable keys such as ZUNIONSTORE or EVAL)."""
        return sorted({i for positions in self._key_specs(argv).values() for i in positions})

    def key_flags(self, argv: list[bytes]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for flags, positions in self._key_specs(argv).items():
            for i in positions:
                out.setdefault(i, []).extend(flags)
        return out

    def _key_specs(self, argv: list[bytes]) -> dict[tuple[str, ...], list[int]]:
        result: dict[tuple[str, ...], list[int]] = {}
        proc = KEY_PROCS.get(self.name)
        if proc is not None:  # Redis's getkeys_proc: keys no key spec can locate (SORT ... STORE)
            for i, flags in proc(argv):
                result.setdefault(flags, []).append(i)
            return result
        specs = self.info[8]["~"] if self.info else []
        for raw in specs:
            ks = dict(raw["%"])
            flags = tuple(x["+"] if isinstance(x, dict) else x for x in ks["flags"]["~"])
            begin = dict(ks["begin_search"]["%"])
            bspec = dict(begin["spec"]["%"])
            if begin["type"] == "index":
                start = bspec["index"]
            elif begin["type"] == "keyword":
                start = _keyword_start(argv, bspec["keyword"], bspec["startfrom"])
                if start is None:
                    continue
            else:
                continue
            find = dict(ks["find_keys"]["%"])
            fspec = dict(find["spec"]["%"])
            if find["type"] == "range":
                last = fspec["lastkey"]
                step = fspec["keystep"] or 1
                if last >= 0:
                    end = start + last
                elif fspec.get("limit", 0) > 1:
                    end = start + (len(argv) - 1 - start) // fspec["limit"]
                else:
                    end = len(argv) + last
            elif find["type"] == "keynum":
                try:
                    count = int(argv[start + fspec["keynumidx"]])
                except (IndexError, ValueError):
                    continue
                step = fspec["keystep"] or 1
                start = start + fspec["firstkey"]
                end = start + (count - 1) * step
            else:
                continue
            positions = [i for i in range(start, min(end, len(argv) - 1) + 1, step) if 0 < i < len(argv)]
            result.setdefault(flags, []).extend(positions)
        return result


def _keyword_start(argv: list[bytes], keyword: str, startfrom: int) -> int | None:
    word = keyword.encode().lower()
    n = len(argv)
    indexes = range(startfrom, n) if startfrom >= 0 else range(n + startfrom, 0, -1)
    for i in indexes:
        if 0 < i < n and argv[i].lower() == word:
            return i + 1
    return None


COMMANDS: dict[str, CommandSpec] = {}
# Commands whose key positions come from code, as Redis's getkeys_proc: name → fn(argv) returning
# [(position, key-spec flags)]. Filled by the command modules (sort.py).
KEY_PROCS: dict[str, Callable[[list[bytes]], list[tuple[int, tuple[str, ...]]]]] = {}
# Lookup by the raw bytes a client sends: filled lazily per spelling so `GET` and `get` both hit once.
LOOKUP: dict[bytes, CommandSpec] = {}


def _spec_from_info(info: list[Any], docs: dict[str, Any] | None) -> CommandSpec:
    flags = frozenset(_tagged_set(info[2]))
    spec = CommandSpec(
        name=info[0],
        arity=info[1],
        flags=flags,
        first_key=info[3],
        last_key=info[4],
        key_step=info[5],
        info=info,
        docs=docs,
        acl_categories=frozenset(_tagged_set(info[6])),
    )
    spec.write = "write" in flags
    spec.noauth = "no_auth" in flags
    spec.denyoom = "denyoom" in flags
    spec.data_only = not spec.acl_categories & {"@admin", "@dangerous", "@transaction", "@pubsub"} and spec.name not in {
        "hello", "reset", "auth", "quit"}
    spec.stats_later = spec.data_only and "@scripting" not in spec.acl_categories
    return spec


def _docs_of(name: str) -> dict[str, Any] | None:
    if "|" not in name:
        return _REDIS_TABLE.get(name, {}).get("docs")
    parent, _ = name.split("|", 1)
    parent_docs = _REDIS_TABLE.get(parent, {}).get("docs")
    if not parent_docs:
        return None
    for key, value in parent_docs["%"]:
        if key == "subcommands":
            for sub_name, sub_docs in value["%"]:
                if sub_name == name:
                    return sub_docs
    return None


def _redis_info(name: str) -> list[Any] | None:
    if "|" not in name:
        row = _REDIS_TABLE.get(name)
        return row["info"] if row else None
    parent = _REDIS_TABLE.get(name.split("|", 1)[0])
    if not parent:
        return None
    for sub in parent["info"][9]:
        if sub[0] == name:
            return sub
    return None


def _container(name: str) -> CommandSpec:
    """The parent row of a command with subcommands (CLIENT, CONFIG, ...), created on first use."""
    spec = COMMANDS.get(name)
    if spec is None:
        info = _redis_info(name)
        if info is None:
            raise KeyError(f"{name} is not a Redis 7.0 command; pass its metadata to @command")
        spec = _spec_from_info(info, _docs_of(name))
        COMMANDS[name] = spec
    return spec


def command(
    name: str,
    *,
    arity: int | None = None,
    flags: tuple[str, ...] = (),
    keys: tuple[int, int, int] = (0, 0, 0),
    categories: tuple[str, ...] = (),
    summary: str = "",
    since: str = "",
    group: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `handler(ctx, *args)` for `name` ("get", or "client|setinfo" for a subcommand).

    Metadata comes from Redis's table; the keyword arguments are only for commands Redis 7.0 lacks.
    """
    name = name.lower()

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        info = _redis_info(name)
        if info is None:
            if arity is None:
                raise KeyError(f"{name} is not a Redis 7.0 command; pass arity= and friends")
            info = [
                name,
                arity,
                {"~": [{"+": f} for f in flags]},
                keys[0],
                keys[1],
                keys[2],
                {"~": [{"+": c} for c in categories]},
                {"~": []},
                {"~": []},
                {"~": []},
            ]
            docs: dict[str, Any] | None = {
                "%": [["summary", summary], ["since", since], ["group", group], ["complexity", "O(1)"]]
            }
        else:
            docs = _docs_of(name)
        spec = _spec_from_info(info, docs)
        spec.handler = handler
        spec.simple = "|" not in name
        if "|" in name:
            parent = _container(name.split("|", 1)[0])
            spec.parent = parent
            parent.subcommands[name.split("|", 1)[1]] = spec
            parent.simple = False
        else:
            existing = COMMANDS.get(name)
            if existing is not None:
                spec.subcommands = existing.subcommands
            spec.simple = not spec.subcommands
            COMMANDS[name] = spec
        LOOKUP.clear()
        return handler

    return register


def lookup(raw_name: bytes) -> CommandSpec | None:
    """Find a command by the bytes the client sent (any case); caches each spelling seen."""
    spec = LOOKUP.get(raw_name)
    if spec is None:
        try:
            spec = COMMANDS.get(raw_name.decode("latin-1").lower())
        except Exception:
            return None
        if spec is not None and len(LOOKUP) < 4096:  # bound: clients may send random names
            LOOKUP[raw_name] = spec
    return spec
