"""ACL users, their rules and the permission check (Redis 7.0's acl.c, same semantics).

A `User` has flags, SHA-256 password hashes (never the plain text) and selectors; the first selector
is the root one that rules outside parentheses change. A `Selector` holds the allowed commands as a
set of command names ("get", "config|get"), allowed first arguments, key patterns with R/W flags and
channel patterns. `describe()` rebuilds the `+@all -@dangerous +get` form the way Redis does: pick
categories greedily, then fix single commands. `Selector.check` is ACLSelectorCheckCmd; `User.check`
picks the error to report across selectors as ACLCheckAllUserCommandPerm does.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from respdb.commands.registry import CommandSpec
from respdb.server.acl_table import CATEGORIES, READ, WRITE, key_requirements, table
from respdb.storage.glob import compile_glob, glob_match

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# Where Redis's deprecation warning for "+cmd|firstarg" rules goes (the server log; set at install).
warn: Callable[[str], None] | None = None
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


def _password_digest(op: bytes, cleartext_prefix: bytes) -> bytes:
    """The stored digest for a `>pass`/`<pass` rule (hashed here) or a `#hash`/`!hash` rule (checked)."""
    if op[:1] == cleartext_prefix:
        return hash_password(op[1:])
    digest = op[1:]
    if not _valid_hash(digest):
        raise RuleError(E_BAD_HASH)
    return digest


def _valid_hash(h: bytes) -> bool:
    return len(h) == 64 and all(c in b"0123456789abcdef" for c in h)


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
            if not flags:  # "%~x" or a bare "%": a permission is required
                raise RuleError(E_SYNTAX)
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
            if warn is not None:
                warn(
                    "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL "
                    f"and may get disabled in the future (offender: +{name})"
                )
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
        for pattern, flags in self.keys:  # noqa: SIM110 - a loop, not any(): no generator per check
            if flags & need == need and compile_glob(pattern)(key):
                return True
        return False


def _channel_allowed(patterns: list[bytes], channel: bytes, literal: bool) -> bool:
    if literal:  # PSUBSCRIBE patterns must appear verbatim among the allowed ones
        return channel in patterns
    return any(glob_match(p, channel) for p in patterns)


def _pattern_text(pattern: bytes, flags: int) -> bytes:
    prefix = b"~" if flags == READ | WRITE else b"%R~" if flags == READ else b"%W~"
    return prefix + pattern


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
            digest = _password_digest(op, b">")
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.flags.discard("nopass")
        elif op[:1] in (b"<", b"!"):
            digest = _password_digest(op, b"<")
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
        selectors = self.selectors
        if len(selectors) == 1:  # the usual case: no selector loop, keys only when they matter
            root = selectors[0]
            return root.check(spec, argv, [] if root.allkeys else key_requirements(spec, argv))
        keys = key_requirements(spec, argv) if not all(s.allkeys for s in selectors) else []
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
