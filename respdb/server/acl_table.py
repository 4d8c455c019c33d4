"""The command table as ACL rules see it, and where a command's keys are (for the key checks).

Rules resolve against Redis 7.0's whole table (from redis7_commands.json) plus respdb's additions, so
an aclfile written for Redis loads here and category best-fits count what Redis counts. Key positions
come from the key specs; commands whose specs are all index + range get a cached plan, and SET and
BITFIELD (VARIABLE_FLAGS) get their flags from their arguments as Redis's getkeys procs do.
"""

from __future__ import annotations

from typing import Any

from respdb.commands.registry import _REDIS_TABLE, COMMANDS, KEY_PROCS, CommandSpec

CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
    "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
    "transaction", "scripting",
)
READ, WRITE = 1, 2


class Entry:
    """One command or subcommand as ACL rules see it."""

    __slots__ = ("categories", "name", "parent", "subs")

    def __init__(self, name: str, categories: frozenset[str], parent: str | None) -> None:
        self.name = name
        self.categories = categories
        self.parent = parent
        self.subs: list[Entry] = []


class CommandTable:
    """Command names and categories that rules resolve against: Redis 7.0's whole table (so rules
    naming a command respdb lacks are accepted, and category best-fits count what Redis counts)
    plus respdb's own additions. Built once, lazily, after every command module has registered."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.tops: list[Entry] = []
        for row in _REDIS_TABLE.values():
            top = self._add(row["info"], None)
            subs = row["info"][9]
            for sub in subs["~"] if isinstance(subs, dict) else subs:
                top.subs.append(self._add(sub, top.name))
        for spec in COMMANDS.values():
            top = self.entries.get(spec.name) or self._add_spec(spec, None)
            for sub in spec.subcommands.values():
                if sub.name not in self.entries:
                    top.subs.append(self._add_spec(sub, top.name))
        self.all: frozenset[str] = frozenset(self.entries)
        # What +@cat changes (a container in the category brings all its subcommands, as
        # ACLChangeSelectorPerm does) and what counts as a member when describing.
        self.effect: dict[str, frozenset[str]] = {}
        self.members: dict[str, frozenset[str]] = {}
        for cat in CATEGORIES:
            tag = "@" + cat
            effect: set[str] = set()
            members: set[str] = set()
            for top in self.tops:
                if tag in top.categories:
                    effect.update(self.family(top))
                    members.add(top.name)
                for sub in top.subs:
                    if tag in sub.categories:
                        effect.add(sub.name)
                        members.add(sub.name)
            self.effect[cat] = frozenset(effect)
            self.members[cat] = frozenset(members)

    def _add(self, info: list, parent: str | None) -> Entry:
        cats = frozenset(c["+"] if isinstance(c, dict) else c for c in info[6]["~"])
        return self._store(Entry(info[0], cats, parent))

    def _add_spec(self, spec: CommandSpec, parent: str | None) -> Entry:
        return self._store(Entry(spec.name, spec.acl_categories, parent))

    def _store(self, entry: Entry) -> Entry:
        self.entries[entry.name] = entry
        if entry.parent is None:
            self.tops.append(entry)
        return entry

    def lookup(self, name: str) -> Entry | None:
        """ACLLookupCommand: "get" or "config|get", case-insensitive."""
        parts = name.lower().split("|")
        if len(parts) > 2:
            return None
        entry = self.entries.get(parts[0])
        if entry is None or len(parts) == 1:
            return entry
        return self.entries.get(name.lower()) if entry.subs else None

    @staticmethod
    def family(entry: Entry) -> list[str]:
        return [entry.name, *(s.name for s in entry.subs)]


_TABLE: CommandTable | None = None


def table() -> CommandTable:
    global _TABLE
    if _TABLE is None:
        _TABLE = CommandTable()
    return _TABLE


def key_requirements(spec: CommandSpec, argv: list[bytes]) -> list[tuple[int, int]]:
    """(position, READ/WRITE need) per key reference, from the key specs (ACLSelectorCheckKey's
    mapping: access → read; insert, delete, update → write)."""
    name = spec.name
    if name == "set":  # VARIABLE_FLAGS: setGetKeys reads the key only with GET
        get = any(a.lower() == b"get" for a in argv[3:])
        return [(1, READ | WRITE if get else WRITE)]
    if name == "bitfield":  # bitfieldGetKeys: read-only unless a SET/INCRBY (or a bad option)
        return [(1, READ if _bitfield_readonly(argv) else READ | WRITE)]
    plan = _PLANS.get(spec.name, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = _PLANS[spec.name] = _range_plan(spec)
    if plan is not None:  # every key spec is index + range: positions without re-reading the specs
        n = len(argv)
        out = []
        for need, start, last, step, limit in plan:
            if last >= 0:
                end = start + last
            elif limit > 1:
                end = start + (n - 1 - start) // limit
            else:
                end = n + last
            out.extend((i, need) for i in range(start, min(end, n - 1) + 1, step) if 0 < i < n)
        if len(plan) > 1:
            out.sort()
        return out
    out = []
    for flags, positions in spec._key_specs(argv).items():
        need = _need(flags)
        out.extend((pos, need) for pos in positions)
    out.sort()
    return out


_UNPLANNED: Any = object()
_PLANS: dict[str, list[tuple[int, int, int, int, int]] | None] = {}


def _need(flags: Any) -> int:
    need = 0
    for f in flags:
        f = f.lower()
        if f == "access":
            need |= READ
        elif f in ("insert", "delete", "update"):
            need |= WRITE
    return need


def _range_plan(spec: CommandSpec) -> list[tuple[int, int, int, int, int]] | None:
    """(need, start, lastkey, step, limit) per key spec when all are index/range specs, else None."""
    if spec.name in KEY_PROCS or not spec.info:
        return None if spec.name in KEY_PROCS else []
    plan = []
    for raw in spec.info[8]["~"]:
        ks = dict(raw["%"])
        begin, find = dict(ks["begin_search"]["%"]), dict(ks["find_keys"]["%"])
        if begin["type"] != "index" or find["type"] != "range":
            return None
        bspec, fspec = dict(begin["spec"]["%"]), dict(find["spec"]["%"])
        flags = [x["+"] if isinstance(x, dict) else x for x in ks["flags"]["~"]]
        plan.append((_need(flags), bspec["index"], fspec["lastkey"], fspec["keystep"] or 1, fspec.get("limit", 0)))
    return plan


def _bitfield_readonly(argv: list[bytes]) -> bool:
    i = 2
    while i < len(argv):
        arg, rest = argv[i].lower(), len(argv) - i - 1
        if arg == b"get" and rest >= 2:
            i += 3
        elif arg == b"overflow" and rest >= 1:
            i += 2
        else:
            return False
    return True
