"""ACL users, their rules and the permission check (Redis 7.0's acl.c, same semantics).

A `User` has flags, SHA-256 password hashes (never the plain text) and selectors; the first selector
is the root one that rules outside parentheses change. A `Selector` holds the allowed commands as a
set of command names ("get", "config|get"), allowed first arguments, key patterns with R/W flags and
channel patterns. `describe()` rebuilds the `+@all -@dangerous +get` form the way Redis does: pick
categories greedily, then fix single commands. `Selector.check` is ACLSelectorCheckCmd; `check_user`
picks the error to report across selectors as ACLCheckAllUserCommandPerm does.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from respdb.commands.registry import _REDIS_TABLE, COMMANDS, KEY_PROCS, CommandSpec
from respdb.storage.glob import glob_match

if TYPE_CHECKING:
    from collections.abc import Iterator

CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
    "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
    "transaction", "scripting",
)
READ, WRITE = 1, 2
# Results of a check, ordered as Redis's ACL_DENIED_* (the higher one is reported across selectors).
OK, DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 0, 1, 2, 3, 4
_CHANNEL_CMDS = {"publish": False, "spublish": False, "subscribe": True, "ssubscribe": True, "psubscribe": True}

# ACLSetUserStringError texts, by the errno Redis sets.
E_SYNTAX = "Syntax error"
E_UNKNOWN = "Unknown command or category name in ACL"
E_KEYS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any "
    "effect. Try 'resetkeys' to start with an empty list of patterns"
)
E_CHANNELS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any "
    "effect. Try 'resetchannels' to start with an empty list of channels"
)
E_NO_PASSWORD = "The password you are trying to remove from the user does not exist"
E_BAD_HASH = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
E_SUBCOMMAND_FIRSTARG = "Allowing first-arg of a subcommand is not supported"


class RuleError(Exception):
    """An ACL rule that cannot be applied; the message is Redis's errno text."""


def hash_password(password: bytes) -> bytes:
    return hashlib.sha256(password).hexdigest().encode()


def has_spaces(s: bytes) -> bool:
    return any(c in b" \t\n\v\f\r\x00" for c in s)


def _valid_hash(h: bytes) -> bool:
    return len(h) == 64 and all(c in b"0123456789abcdef" for c in h)


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


class Selector:
    __slots__ = ("allchannels", "allcommands", "allkeys", "allowed", "channels", "firstargs", "future", "keys", "root")

    def __init__(self, root: bool, allchannels: bool = False) -> None:
        self.root = root
        self.allkeys = False
        self.allchannels = allchannels  # acl-pubsub-default
        self.allcommands = False  # SELECTOR_FLAG_ALLCOMMANDS: skip the per-command test
        self.future = False  # the reserved bit set only by +@all: described as "+@all ..."
        self.allowed: set[str] = set()
        self.firstargs: dict[str, list[bytes]] = {}
        self.keys: list[list] = []  # [pattern, READ|WRITE]
        self.channels: list[bytes] = []

    def copy(self) -> Selector:
        s = Selector(self.root, self.allchannels)
        s.allkeys, s.allcommands, s.future = self.allkeys, self.allcommands, self.future
        s.allowed = set(self.allowed)
        s.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        s.keys = [list(k) for k in self.keys]
        s.channels = list(self.channels)
        return s

    # --- rules -----------------------------------------------------------------------------------
    def _change(self, names: Iterator[str] | list[str] | frozenset[str], allow: bool) -> None:
        """ACLChangeSelectorPerm for each name (first-args reset; clearing a bit drops ALLCOMMANDS)."""
        for name in names:
            self.firstargs.pop(name, None)
            if allow:
                self.allowed.add(name)
            else:
                self.allowed.discard(name)
                self.allcommands = False

    def apply(self, op: bytes) -> None:
        """ACLSetSelector: one rule; raises RuleError."""
        low = op.lower()
        if low in (b"allkeys", b"~*"):
            self.allkeys = True
            self.keys = []
        elif low == b"resetkeys":
            self.allkeys = False
            self.keys = []
        elif low in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels = []
        elif low == b"resetchannels":
            self.allchannels = False
            self.channels = []
        elif low in (b"allcommands", b"+@all"):
            self.allowed = set(table().all)
            self.allcommands = self.future = True
            self.firstargs = {}
        elif low in (b"nocommands", b"-@all"):
            self.allowed = set()
            self.allcommands = self.future = False
            self.firstargs = {}
        elif op[:1] in (b"~", b"%"):
            self._add_key_pattern(op)
        elif op[:1] == b"&":
            if self.allchannels:
                raise RuleError(E_CHANNELS_AFTER_ALL)
            if has_spaces(op[1:]):
                raise RuleError(E_SYNTAX)
            if op[1:] not in self.channels:
                self.channels.append(op[1:])
            self.allchannels = False
        elif op[:1] == b"+" and op[1:2] != b"@":
            self._allow_command(op[1:].decode("latin-1"))
        elif op[:1] == b"-" and op[1:2] != b"@":
            spec = table().lookup(op[1:].decode("latin-1"))
            if spec is None:
                raise RuleError(E_UNKNOWN)
            self._change(table().family(spec), False)
        elif op[:1] in (b"+", b"-") and op[1:2] == b"@":
            cat = op[2:].decode("latin-1").lower()
            if cat not in table().effect:
                raise RuleError(E_UNKNOWN)
            self._change(table().effect[cat], op[:1] == b"+")
        else:
            raise RuleError(E_SYNTAX)

    def _add_key_pattern(self, op: bytes) -> None:
        if self.allkeys:
            raise RuleError(E_KEYS_AFTER_ALL)
        flags = 0
        offset = 1
        if op[:1] == b"%":
            while offset < len(op):
                c = op[offset : offset + 1].upper()
                if c == b"R" and not flags & READ:
                    flags |= READ
                elif c == b"W" and not flags & WRITE:
                    flags |= WRITE
                elif c == b"~":
                    offset += 1
                    break
                else:
                    raise RuleError(E_SYNTAX)
                offset += 1
        else:
            flags = READ | WRITE
        pattern = op[offset:]
        if has_spaces(pattern):
            raise RuleError(E_SYNTAX)
        for entry in self.keys:
            if entry[0] == pattern:
                entry[1] |= flags
                break
        else:
            self.keys.append([pattern, flags])
        self.allkeys = False

    def _allow_command(self, name: str) -> None:
        if "|" not in name:
            spec = table().lookup(name)
            if spec is None:
                raise RuleError(E_UNKNOWN)
            self._change(table().family(spec), True)
            return
        base, sub = name.rsplit("|", 1)
        spec = table().lookup(base)
        if spec is None:
            raise RuleError(E_UNKNOWN)
        if spec.parent is not None:
            raise RuleError(E_SUBCOMMAND_FIRSTARG)
        if not sub:
            raise RuleError(E_SYNTAX)
        if spec.subs:
            subspec = table().lookup(name)
            if subspec is None:
                raise RuleError(E_UNKNOWN)
            self._change([subspec.name], True)
        else:
            # "+select|0": allow one first argument of an otherwise blocked command.
            args = self.firstargs.setdefault(spec.name, [])
            if not any(a.lower() == sub.lower().encode("latin-1") for a in args):
                args.append(sub.encode("latin-1"))

    # --- description -----------------------------------------------------------------------------
    def describe_commands(self) -> bytes:
        """ACLDescribeSelectorCommandRules: "+@all"/"-@all", best-fit categories, then single commands."""
        t = table()
        additive = not self.future
        rules = [b"-@all" if additive else b"+@all"]
        fake = set() if additive else set(t.all)
        temp = set(self.allowed)
        applied: set[str] = set()
        while True:
            best = None
            mindiff, maxsame = 1 << 62, 0
            for cat in CATEGORIES:
                if cat in applied:
                    continue
                members = t.members[cat]
                on = len(members & temp)
                off = len(members) - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = cat, diff, same
            if best is None:
                break
            effect = t.effect[best]
            if additive:
                fake |= effect
                temp -= effect
            else:
                fake -= effect
                temp |= effect
            rules.append((b"+@" if additive else b"-@") + best.encode())
            applied.add(best)
        # Single commands (Redis walks its command dict, whose order is random per process).
        for spec in t.tops:
            for cmd in (spec, *spec.subs):
                userbit = cmd.name in self.allowed
                if userbit != (cmd.name in fake):
                    rules.append((b"+" if userbit else b"-") + cmd.name.encode())
                    family = t.family(cmd)
                    if userbit:
                        fake.update(family)
                    else:
                        fake.difference_update(family)
            if spec.name not in self.allowed:
                for arg in self.firstargs.get(spec.name, ()):
                    rules.append(b"+" + spec.name.encode() + b"|" + arg)
        return b" ".join(rules)

    def describe_keys(self) -> bytes:
        if self.allkeys:
            return b"~*"
        return b" ".join(_pattern_text(p, f) for p, f in self.keys)

    def describe_channels(self) -> bytes:
        if self.allchannels:
            return b"&*"
        return b" ".join(b"&" + c for c in self.channels)

    def describe(self) -> bytes:
        """ACLDescribeSelector: keys, channels, commands, as ACL LIST shows them."""
        parts = [b"~*"] if self.allkeys else [_pattern_text(p, f) for p, f in self.keys]
        if self.allchannels:
            parts.append(b"&*")
        else:
            parts.append(b"resetchannels")
            parts.extend(b"&" + c for c in self.channels)
        parts.append(self.describe_commands())
        return b" ".join(parts)

    # --- checks ----------------------------------------------------------------------------------
    def check(self, spec: CommandSpec, argv: list[bytes], keys: list[tuple[int, int]]) -> tuple[int, int]:
        """ACLSelectorCheckCmd → (result, index of the offending argument)."""
        if not self.allcommands and not spec.noauth and spec.name not in self.allowed:
            allowed = self.firstargs.get(spec.name)
            idx = 2 if spec.parent is not None else 1
            if not allowed or len(argv) <= idx or not any(argv[idx].lower() == a.lower() for a in allowed):
                return DENIED_CMD, 0
        if not self.allkeys:
            for pos, need in keys:
                if not self.key_allowed(argv[pos], need):
                    return DENIED_KEY, pos
        if not self.allchannels:
            literal = _CHANNEL_CMDS.get(spec.name)
            if literal is not None:
                end = 2 if spec.name in ("publish", "spublish") else len(argv)
                for i in range(1, end):
                    if not _channel_allowed(self.channels, argv[i], spec.name == "psubscribe"):
                        return DENIED_CHANNEL, i
        return OK, 0

    def key_allowed(self, key: bytes, need: int) -> bool:
        if self.allkeys:
            return True
        return any(flags & need == need and glob_match(p, key) for p, flags in self.keys)


def _channel_allowed(patterns: list[bytes], channel: bytes, literal: bool) -> bool:
    if literal:  # PSUBSCRIBE patterns must appear verbatim among the allowed ones
        return channel in patterns
    return any(glob_match(p, channel) for p in patterns)


def _pattern_text(pattern: bytes, flags: int) -> bytes:
    prefix = b"~" if flags == READ | WRITE else b"%R~" if flags == READ else b"%W~"
    return prefix + pattern


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


USER_FLAGS = ("on", "off", "nopass", "skip-sanitize-payload", "sanitize-payload")


class User:
    __slots__ = ("flags", "name", "passwords", "selectors")

    def __init__(self, name: bytes, allchannels: bool = False) -> None:
        self.name = name
        self.flags: set[str] = {"off"}
        self.passwords: list[bytes] = []  # SHA-256 hex digests
        self.selectors: list[Selector] = [Selector(True, allchannels)]

    @property
    def root(self) -> Selector:
        return self.selectors[0]

    @property
    def enabled(self) -> bool:
        return "on" in self.flags

    @property
    def unrestricted(self) -> bool:
        """True when no check can fail: the client may then stay on dispatch's fast path."""
        return any(s.allcommands and s.allkeys and s.allchannels for s in self.selectors)

    def copy_from(self, other: User) -> None:
        self.flags = set(other.flags)
        self.passwords = list(other.passwords)
        self.selectors = [s.copy() for s in other.selectors]

    def apply(self, op: bytes, allchannels_default: bool = False) -> None:
        """ACLSetUser: one rule (user flags, passwords, selectors, or a root-selector rule)."""
        if not op:
            return
        low = op.lower()
        if low in (b"on", b"off"):
            self.flags.discard("off" if low == b"on" else "on")
            self.flags.add(low.decode())
        elif low in (b"skip-sanitize-payload", b"sanitize-payload"):
            self.flags.discard("sanitize-payload" if low == b"skip-sanitize-payload" else "skip-sanitize-payload")
            self.flags.add(low.decode())
        elif low == b"nopass":
            self.flags.add("nopass")
            self.passwords = []
        elif low == b"resetpass":
            self.flags.discard("nopass")
            self.passwords = []
        elif op[:1] in (b">", b"#"):
            if op[:1] == b">":
                digest = hash_password(op[1:])
            else:
                digest = op[1:]
                if not _valid_hash(digest):
                    raise RuleError(E_BAD_HASH)
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.flags.discard("nopass")
        elif op[:1] in (b"<", b"!"):
            if op[:1] == b"<":
                digest = hash_password(op[1:])
            else:
                digest = op[1:]
                if not _valid_hash(digest):
                    raise RuleError(E_BAD_HASH)
            if digest not in self.passwords:
                raise RuleError(E_NO_PASSWORD)
            self.passwords.remove(digest)
        elif op[:1] == b"(" and op[-1:] == b")":
            selector = Selector(False, allchannels_default)
            for part in op[1:-1].split():
                selector.apply(part)
            self.selectors.append(selector)
        elif low == b"clearselectors":
            del self.selectors[1:]
        elif low == b"reset":
            for rule in (b"resetpass", b"resetkeys", b"resetchannels"):
                self.apply(rule)
            if allchannels_default:
                self.apply(b"allchannels")
            for rule in (b"off", b"sanitize-payload", b"clearselectors", b"-@all"):
                self.apply(rule)
        else:
            self.root.apply(op)

    def check_password(self, password: bytes) -> bool:
        if "off" in self.flags:
            return False
        if "nopass" in self.flags:
            return True
        digest = hash_password(password)
        # Compare every stored hash in full: the time taken does not depend on which one matched.
        found = False
        for stored in self.passwords:
            found |= _const_eq(stored, digest)
        return found

    def describe(self) -> bytes:
        """ACLDescribeUser, as in ACL LIST and the ACL file."""
        parts = [f.encode() for f in USER_FLAGS if f in self.flags]
        parts.extend(b"#" + p for p in self.passwords)
        text = b" ".join(parts + [self.root.describe()])
        for s in self.selectors[1:]:
            text += b" (" + s.describe() + b")"
        return text

    def check(self, spec: CommandSpec, argv: list[bytes]) -> tuple[int, int]:
        """ACLCheckAllUserCommandPerm: OK if any selector allows; else the most relevant error."""
        keys = key_requirements(spec, argv) if not all(s.allkeys for s in self.selectors) else []
        relevant, last = DENIED_CMD, 0
        for s in self.selectors:
            result, idx = s.check(spec, argv, keys)
            if result == OK:
                return OK, 0
            if result > relevant or (result == relevant and idx > last):
                relevant, last = result, idx
        return relevant, last

    def channel_allowed(self, channel: bytes, literal: bool) -> bool:
        return any(s.allchannels or _channel_allowed(s.channels, channel, literal) for s in self.selectors)


def _const_eq(a: bytes, b: bytes) -> bool:
    import hmac

    return hmac.compare_digest(a, b)


def merge_selector_args(args: list[bytes]) -> tuple[list[bytes] | None, int]:
    """ACLMergeSelectorArguments: join "(+get" "~k)" into one "(+get ~k)" rule.
    Returns (rules, -1) or (None, index of the unmatched opening argument)."""
    out: list[bytes] = []
    current: bytes | None = None
    start = -1
    for i, op in enumerate(args):
        if op[:1] == b"(" and op[-1:] != b")":
            current, start = op, i
            continue
        if current is not None:
            current += b" " + op
            if op[-1:] == b")":
                out.append(current)
                current, start = None, -1
            continue
        out.append(op)
    if current is not None:
        return None, start
    return out, -1
