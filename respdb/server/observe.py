"""Watching the server work: MONITOR feeds, the slow log and the latency monitor.

Dispatch measures every command's duration anyway (for INFO commandstats); a command at or over
`server.slow_threshold` (the smaller of `slowlog-log-slower-than` and `latency-monitor-threshold`,
infinite when both are off) is handed to `record_slow`, so the hot path pays one comparison.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from respdb.config import param
from respdb.protocol.types import Simple
from respdb.server.hooks import on_server_init

if TYPE_CHECKING:
    from respdb.commands.registry import CommandSpec
    from respdb.server.app import Server
    from respdb.server.client import Client

param("slowlog-log-slower-than", "int", 10000, lo=-(2**63), hi=2**63 - 1)
param("slowlog-max-len", "int", 128, lo=0, hi=2**63 - 1)
param("latency-monitor-threshold", "int", 0, lo=0, hi=2**63 - 1)

SLOWLOG_MAX_ARGS = 32
SLOWLOG_MAX_ARG_LEN = 128
_REDACTED = {"auth": 1, "hello": None, "migrate": None, "acl|setuser": None}


class Observer:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.monitors: list[Client] = []
        self.slowlog: deque[list[Any]] = deque()
        self.slowlog_next_id = 0
        self.latency: dict[str, deque[tuple[int, int]]] = {}
        self.latency_max: dict[str, int] = {}

    # --- thresholds ------------------------------------------------------------------------------
    def update_threshold(self, _value: object = None) -> None:
        cfg = self.server.config
        slow = cfg.slowlog_log_slower_than / 1e6 if cfg.slowlog_log_slower_than >= 0 else math.inf
        lat = cfg.latency_monitor_threshold / 1e3 if cfg.latency_monitor_threshold > 0 else math.inf
        self.server.slow_threshold = min(slow, lat)
        while len(self.slowlog) > cfg.slowlog_max_len:
            self.slowlog.pop()

    def record_slow(self, client: Client, spec: CommandSpec, argv: list[bytes], seconds: float) -> None:
        cfg = self.server.config
        usec = int(seconds * 1e6)
        if 0 <= cfg.slowlog_log_slower_than <= usec and "skip_slowlog" not in spec.flags:
            args = _redact(spec, argv)
            if len(args) > SLOWLOG_MAX_ARGS:
                args = args[: SLOWLOG_MAX_ARGS - 1] + [b"... (%d more arguments)" % (len(args) - SLOWLOG_MAX_ARGS + 1)]
            args = [a if len(a) <= SLOWLOG_MAX_ARG_LEN else a[:SLOWLOG_MAX_ARG_LEN] + b"... (%d more bytes)" % (len(a) - SLOWLOG_MAX_ARG_LEN) for a in args]
            self.slowlog.appendleft([self.slowlog_next_id, int(time.time()), usec, args, client.addr.encode(), client.name])
            self.slowlog_next_id += 1
            while len(self.slowlog) > cfg.slowlog_max_len:
                self.slowlog.pop()
        ms = usec // 1000
        if cfg.latency_monitor_threshold and ms >= cfg.latency_monitor_threshold:
            self.latency_event("fast-command" if "fast" in spec.flags else "command", ms)

    def latency_event(self, event: str, ms: int) -> None:
        samples = self.latency.setdefault(event, deque(maxlen=160))
        now = int(time.time())
        if samples and samples[-1][0] == now:  # one sample per second, the max, as Redis keeps
            ms = max(ms, samples[-1][1])
            samples.pop()
        samples.append((now, ms))
        self.latency_max[event] = max(self.latency_max.get(event, 0), ms)

    # --- MONITOR ---------------------------------------------------------------------------------
    def feed_monitors(self, client: Client, spec: CommandSpec, argv: list[bytes]) -> None:
        if not self.monitors or "admin" in spec.flags or "skip_monitor" in spec.flags:
            return
        now = time.time()
        where = "lua" if getattr(client, "is_script", False) else client.addr
        line = b"%d.%06d [%d %s] " % (int(now), int(now * 1e6) % 1_000_000, client.db.id, where.encode())
        line += b" ".join(_repr(a) for a in _redact(spec, argv))
        for monitor in list(self.monitors):
            if monitor is not client:
                monitor.write(monitor.encode(Simple(line)))

    def remove(self, client: Client) -> None:
        if client in self.monitors:
            self.monitors.remove(client)
            self.server.post_command_needed = bool(self.monitors)


def _redact(spec: CommandSpec, argv: list[bytes]) -> list[bytes]:
    name = spec.name
    if name == "auth":
        return argv[:1] + [b"(redacted)"] * (len(argv) - 1)
    if name == "config|set":  # values of sensitive parameters (requirepass), as configSetCommand redacts them
        from respdb.config import PARAMS

        out = list(argv)
        for i in range(2, len(argv) - 1, 2):
            p = PARAMS.get(argv[i].decode("latin-1").lower())
            if p is not None and p.secret:
                out[i + 1] = b"(redacted)"
        return out
    if name == "acl|setuser":  # the username and every rule (">password") as Redis's aclCommand redacts them
        return argv[:2] + [b"(redacted)"] * (len(argv) - 2)
    if name == "hello":
        out = list(argv)
        for i, a in enumerate(argv):
            if a.lower() == b"auth" and i + 2 < len(argv):
                out[i + 1] = out[i + 2] = b"(redacted)"
        return out
    return list(argv)


def _repr(arg: bytes) -> bytes:
    """sdscatrepr: quoted, with escapes for quotes, backslashes and non-printables."""
    out = bytearray(b'"')
    for c in arg:
        if c in (0x22, 0x5C):
            out += b"\\" + bytes([c])
        elif c == 10:
            out += b"\\n"
        elif c == 13:
            out += b"\\r"
        elif c == 9:
            out += b"\\t"
        elif c == 7:
            out += b"\\a"
        elif c == 8:
            out += b"\\b"
        elif 32 <= c < 127:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    out += b'"'
    return bytes(out)


@on_server_init
def install(server: Server) -> None:
    obs = Observer(server)
    server.observer = obs
    obs.update_threshold()
    for name in ("slowlog-log-slower-than", "slowlog-max-len", "latency-monitor-threshold"):
        server.config.on_change(name, obs.update_threshold)
    server.post_command_hooks.append(obs.feed_monitors)
    server.disconnect_hooks.append(obs.remove)
