"""Typed configuration and the parameter table behind the CLI, the config file and CONFIG GET/SET.

Every parameter has one row: its Redis name, kind, default, bounds and whether CONFIG SET may change it
at run time. Values are held parsed (ints, bools, enum strings); `format` renders them as Redis's
CONFIG GET does. Only parameters respdb acts on are listed: an unknown name is an error, never a no-op.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from respdb.errors import CommandError

_MEMORY_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3,
}
INT_MAX = 2**31 - 1
LLONG_MAX = 2**63 - 1


class ConfigError(ValueError):
    """A value that cannot be applied; the text is Redis's reason (after 'argument ... - ')."""


def parse_memory(text: str) -> int:
    text = text.strip().lower()
    digits = text.rstrip("kmgb")
    unit = text[len(digits):]
    if unit not in _MEMORY_UNITS or not digits.lstrip("-").isdigit():
        raise ConfigError("argument must be a memory value")
    return int(digits) * _MEMORY_UNITS[unit]


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low not in ("yes", "no"):
        raise ConfigError("argument must be 'yes' or 'no'")
    return low == "yes"


def _parse_save(text: str) -> list[tuple[int, int]]:
    parts = text.split()
    if not parts or parts == ['""']:
        return []
    if len(parts) % 2 or not all(p.isdigit() for p in parts):
        raise ConfigError("Invalid save parameters")
    return [(int(parts[i]), int(parts[i + 1])) for i in range(0, len(parts), 2)]


NOTIFY_CLASSES = "g$lshzxeKEtmdn"


def parse_notify(text: str) -> str:
    """notify-keyspace-events flags, normalised as Redis stores them (A expands to g$lshzxetd)."""
    chars = set()
    for ch in text:
        if ch == "A":
            chars.update("g$lshzxetd")
        elif ch in NOTIFY_CLASSES:
            chars.add(ch)
        else:
            raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return "".join(c for c in "g$lshzxeKEtmdn" if c in chars)


def format_notify(flags: str) -> str:
    """Redis 7.0's keyspaceEventsFlagsToString: A when every class of 'A' is on (then 'n' is not
    shown, though still active), classes, then K, E and m last ('KEAn' → 'AKE', 'Em' → 'Em')."""
    if all(c in flags for c in "g$lshzxetd"):
        out = "A"
    else:
        out = "".join(c for c in "g$lshzxetdn" if c in flags)
    for c in "KEm":
        if c in flags:
            out += c
    return out


def _strtod(text: str) -> float | None:
    """Redis's string2d (strtod on the whole string): decimal or hex, inf; no spaces, NaN or
    out-of-range values (overflow, or underflow to zero)."""
    if not text or not text.isascii() or text[0].isspace() or text[-1].isspace() or "_" in text:
        return None  # float() would take "1_0", surrounding blanks and non-ASCII digits; strtod does not
    hexa = _HEX_FLOAT.fullmatch(text) is not None
    try:
        value = float.fromhex(text) if hexa else float(text)
    except ValueError:
        return None
    if math.isnan(value):
        return None
    if math.isinf(value) and "inf" not in text.lower():
        return None  # ERANGE: overflow
    digits = text.lower().lstrip("+-")
    mantissa = digits[2:].split("p")[0] if hexa else digits.split("e")[0]
    if value == 0.0 and mantissa.strip("0.") != "":
        return None  # ERANGE: a nonzero number that underflows to zero
    return value


_HEX_FLOAT = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?[0-9]+)?")


def _parse_percentiles(text: str) -> list[float]:
    """latency-tracking-info-percentiles: space-separated numbers in [0, 100]; "" means none."""
    if text == "":
        return []
    out = []
    for word in text.split(" "):  # sdssplitlen on single spaces: a doubled space is an empty word
        value = _strtod(word)
        if value is None:
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters")
        if not 0.0 <= value <= 100.0:
            raise ConfigError("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
        out.append(value)
    return out


def _format_percentiles(values: list[float]) -> str:
    from respdb.server.latency_hist import format_percentile

    return " ".join(format_percentile(v) for v in values)


def _parse_obuf(text: str) -> dict[str, tuple[int, int, int]]:
    parts = text.split()
    if len(parts) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    out = {}
    for i in range(0, len(parts), 4):
        cls = parts[i].lower()
        if cls == "slave":
            cls = "replica"
        if cls not in ("normal", "replica", "pubsub"):
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft, secs = parse_memory(parts[i + 1]), parse_memory(parts[i + 2]), int(parts[i + 3])
        except (ConfigError, ValueError):
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.") from None
        if secs < 0:
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        out[cls] = (hard, soft, secs)
    return out


@dataclass(frozen=True, eq=False)
class Param:
    name: str
    kind: str  # int, memory, bool, enum, string, save, bind, notify, obuf, percentiles
    default: Any
    mutable: bool = True
    lo: int = 0
    hi: int = INT_MAX
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    secret: bool = False  # never logged

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")

    def parse(self, text: str) -> Any:
        kind = self.kind
        if kind == "int":
            try:
                value = int(text)
            except ValueError:
                raise ConfigError("argument couldn't be parsed into an integer") from None
            if not self.lo <= value <= self.hi:
                raise ConfigError(f"argument must be between {self.lo} and {self.hi} inclusive")
            return value
        if kind == "memory":
            value = parse_memory(text)
            if not self.lo <= value <= self.hi:
                raise ConfigError(f"argument must be between {self.lo} and {self.hi} inclusive")
            return value
        if kind == "bool":
            return _parse_bool(text)
        if kind == "enum":
            low = text.lower()
            if low not in self.choices:
                raise ConfigError("argument(s) must be one of the following: " + ", ".join(self.choices))
            return low
        if kind == "save":
            return _parse_save(text)
        if kind == "bind":
            addrs = text.split()
            if not addrs:
                raise ConfigError("Too many bind addresses specified.")
            return addrs
        if kind == "notify":
            return parse_notify(text)
        if kind == "obuf":
            return _parse_obuf(text)
        if kind == "percentiles":
            return _parse_percentiles(text)
        return text

    def format(self, value: Any) -> str:
        kind = self.kind
        if kind == "bool":
            return "yes" if value else "no"
        if kind == "save":
            return " ".join(f"{a} {b}" for a, b in value)
        if kind == "bind":
            return " ".join(value)
        if kind == "notify":
            return format_notify(value)
        if kind == "obuf":
            return " ".join(f"{cls} {h} {s} {t}" for cls, (h, s, t) in value.items())
        if kind == "percentiles":
            return _format_percentiles(value)
        return str(value)


PARAMS: dict[str, Param] = {}


def param(*args: Any, **kwargs: Any) -> Param:
    """Add a parameter to the table (modules that implement a feature add its knobs here)."""
    p = Param(*args, **kwargs)
    PARAMS[p.name] = p
    for alias in p.aliases:
        PARAMS[alias] = p
    return p


_LOGLEVELS = ("debug", "verbose", "notice", "warning")
param("port", "int", 9980, lo=0, hi=65535)
param("bind", "bind", ["127.0.0.1", "-::1"])
param("tcp-backlog", "int", 511, mutable=False)
param("unixsocket", "string", "", mutable=False)
param("unixsocketperm", "int", 0, mutable=False, hi=0o777)
param("requirepass", "string", "", secret=True)
param("dir", "string", ".")
param("dbfilename", "string", "dump.cdb")
param("databases", "int", 16, mutable=False, lo=1)
param("maxclients", "int", 10000, lo=1)
param("timeout", "int", 0)
param("loglevel", "enum", "notice", choices=_LOGLEVELS)
param("logfile", "string", "", mutable=False)
param("hz", "int", 10, lo=1, hi=500)
param("proto-max-bulk-len", "memory", 512 * 1024 * 1024, lo=1024 * 1024, hi=LLONG_MAX)
param("client-query-buffer-limit", "memory", 1024 * 1024 * 1024, lo=1024 * 1024, hi=LLONG_MAX)
param("notify-keyspace-events", "notify", "")
# Per-command latency histograms (INFO latencystats, LATENCY HISTOGRAM), on by default as in Redis 7.
param("latency-tracking", "bool", True)
param("latency-tracking-info-percentiles", "percentiles", [50.0, 99.0, 99.9])
# Loading reports progress every this many bytes of the file (Redis processes events at this pace).
param("loading-process-events-interval-bytes", "int", 2 * 1024 * 1024, lo=1024, hi=INT_MAX)
param(
    "client-output-buffer-limit",
    "obuf",
    {"normal": (0, 0, 0), "replica": (256 * 1024 * 1024, 64 * 1024 * 1024, 60), "pubsub": (32 * 1024 * 1024, 8 * 1024 * 1024, 60)},
)


class Config:
    """Current values, as attributes named like the parameter with '_' for '-' (`config.proto_max_bulk_len`)."""

    def __init__(self, **overrides: Any) -> None:
        self._listeners: dict[str, list[Callable[[Any], None]]] = {}
        self.config_file = ""
        self.acl_users: list[list[str]] = []  # `user <name> <rules...>` lines, loaded by server/acl_state.py
        for p in {p.name: p for p in PARAMS.values()}.values():
            value = p.default
            setattr(self, p.attr, list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value)
        for key, value in overrides.items():
            self.set(key.replace("_", "-"), value if isinstance(value, str) else _to_text(value), startup=True)

    def set(self, name: str, text: str, startup: bool = False) -> None:
        """Parse and apply one value; raises ConfigError (reason) or KeyError (unknown name)."""
        p = PARAMS[name.lower()]
        if not startup and not p.mutable:
            raise ConfigError("can't set immutable config")
        value = p.parse(text)
        if p.kind == "obuf":
            merged = dict(getattr(self, p.attr))
            merged.update(value)
            value = merged
        setattr(self, p.attr, value)
        for listener in self._listeners.get(p.name, ()):
            listener(value)

    def get(self, name: str) -> Any:
        return getattr(self, PARAMS[name.lower()].attr)

    def on_change(self, name: str, listener: Callable[[Any], None]) -> None:
        self._listeners.setdefault(name, []).append(listener)

    def matching(self, pattern: str) -> list[tuple[str, str]]:
        """(name, formatted value) for CONFIG GET; glob patterns as Redis matches them."""
        pattern = pattern.lower()
        out = []
        seen = set()
        for name, p in PARAMS.items():
            if name in seen:
                continue
            if fnmatch.fnmatchcase(name, pattern) if any(c in pattern for c in "*?[") else name == pattern:
                seen.add(name)
                out.append((name, p.format(getattr(self, p.attr))))
        return out

    def set_many(self, pairs: list[tuple[str, str]]) -> None:
        """CONFIG SET k v [k v ...]: all or nothing, with Redis's error texts."""
        for name, _ in pairs:
            if name.lower() not in PARAMS:
                raise CommandError(f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
        names = [n.lower() for n, _ in pairs]
        for n in names:
            if names.count(n) > 1:
                raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{n}') - duplicate parameter")
        old = {n: self.get(n) for n in names}
        try:
            for name, text in pairs:
                try:
                    self.set(name, text)
                except ConfigError as exc:
                    raise CommandError(
                        f"ERR CONFIG SET failed (possibly related to argument '{name.lower()}') - {exc}"
                    ) from None
        except CommandError:
            for n, value in old.items():
                setattr(self, PARAMS[n].attr, value)
            raise

    def load_file(self, path: str) -> None:
        """Read a redis.conf-style file: `name value...` per line, # comments, quoted values."""
        from respdb.protocol.parser import split_inline

        self.config_file = path
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.strip()
                if not line or line.startswith(b"#"):
                    continue
                words = split_inline(line)
                if not words:
                    raise ConfigError(f"line {lineno}: unbalanced quotes")
                self.apply_words(words[0].decode(), [w.decode() for w in words[1:]], f"{path}:{lineno}")

    def rewrite(self, path: str) -> None:
        """CONFIG REWRITE: update the file in place, keeping comments and unknown lines; parameters
        that differ from their default and have no line yet are appended."""
        from respdb.protocol.parser import split_inline

        try:
            with open(path, "rb") as f:
                lines = f.read().decode("utf-8", "surrogateescape").splitlines()
        except FileNotFoundError:
            lines = []
        done: set[str] = set()
        out: list[str] = []
        for line in lines:
            words = split_inline(line.strip().encode("utf-8", "surrogateescape")) if line.strip() and not line.lstrip().startswith("#") else None
            name = words[0].decode().lower() if words else ""
            p = PARAMS.get(name)
            if p is None:
                out.append(line)
                continue
            if p.name in done:
                continue
            done.add(p.name)
            out.append(self._line(p))
        for p in {p.name: p for p in PARAMS.values()}.values():
            if p.name not in done and getattr(self, p.attr) != p.default:
                out.append(self._line(p))
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("\n".join(out) + "\n")
        import os

        os.replace(tmp, path)

    def _line(self, p: Param) -> str:
        text = p.format(getattr(self, p.attr))
        if text == "" or (any(c in text for c in " \"'") and p.kind not in ("save", "bind", "obuf", "percentiles")):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{p.name} {text}"

    def apply_words(self, name: str, values: list[str], where: str) -> None:
        key = name.lower()
        if key == "user" and values:  # an ACL user, as in redis.conf: kept for the ACL module to load
            self.acl_users.append(values)
            return
        if key not in PARAMS:
            raise ConfigError(f"{where}: Bad directive or wrong number of arguments ('{name}')")
        p = PARAMS[key]
        text = " ".join(values)
        if p.kind == "save" and values == [""]:
            text = ""
        try:
            self.set(key, text, startup=True)
        except ConfigError as exc:
            raise ConfigError(f"{where}: '{name}': {exc}") from None


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)
