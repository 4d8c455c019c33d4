"""Introspection: MONITOR, SLOWLOG, LATENCY (incl. HISTOGRAM), WAIT, CLIENT PAUSE/UNPAUSE."""

from __future__ import annotations

import time

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.dispatch import NOT_READY, Block
from respdb.commands.registry import COMMANDS, CommandSpec, command
from respdb.errors import CommandError, err
from respdb.protocol.types import OK, Map, Simple, Verbatim
from respdb.server.client import Client
from respdb.server.latency_hist import cumulative


def _help(lines: list[str]) -> list[Simple]:
    return [Simple(line.encode()) for line in lines]


@command("monitor")
def monitor(ctx: Client) -> object:
    obs = ctx.server.observer
    if ctx not in obs.monitors:
        obs.monitors.append(ctx)
        ctx.flags_extra.add("monitor")
        ctx.refresh_plain()
    ctx.server.post_command_needed = True
    return OK


# --- SLOWLOG -----------------------------------------------------------------------------------
@command("slowlog|get")
def slowlog_get(ctx: Client, *count: bytes) -> list[object]:
    n = 10
    if count:
        try:
            n = to_int(count[0])
        except CommandError:
            raise err("count should be greater than or equal to -1") from None
        if n < -1:
            raise err("count should be greater than or equal to -1")
    entries = list(ctx.server.observer.slowlog)
    if n != -1:
        entries = entries[:n]
    return [[e[0], e[1], e[2], e[3], e[4], e[5]] for e in entries]


@command("slowlog|len")
def slowlog_len(ctx: Client) -> int:
    return len(ctx.server.observer.slowlog)


@command("slowlog|reset")
def slowlog_reset(ctx: Client) -> object:
    ctx.server.observer.slowlog.clear()
    return OK


@command("slowlog|help")
def slowlog_help(ctx: Client) -> list[Simple]:
    return _help([
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Print this help.",
    ])


# --- LATENCY -----------------------------------------------------------------------------------
@command("latency|latest")
def latency_latest(ctx: Client) -> list[object]:
    obs = ctx.server.observer
    out = []
    for event, samples in obs.latency.items():
        if samples:
            ts, ms = samples[-1]
            out.append([event.encode(), ts, ms, obs.latency_max[event]])
    return out


@command("latency|history")
def latency_history(ctx: Client, event: bytes) -> list[object]:
    samples = ctx.server.observer.latency.get(event.decode("utf-8", "replace"), ())
    return [[ts, ms] for ts, ms in samples]


@command("latency|reset")
def latency_reset(ctx: Client, *events: bytes) -> int:
    obs = ctx.server.observer
    names = [e.decode("utf-8", "replace") for e in events] if events else list(obs.latency)
    n = 0
    for name in names:
        if obs.latency.pop(name, None) is not None:
            obs.latency_max.pop(name, None)
            n += 1
    return n


@command("latency|doctor")
def latency_doctor(ctx: Client) -> object:
    obs = ctx.server.observer
    threshold = ctx.server.config.latency_monitor_threshold
    if not obs.latency:
        if not threshold:
            text = (
                "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. "
                "You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. "
                "If we weren't in a deep space mission I'd suggest to take a look at "
                "https://redis.io/topics/latency-monitor.\n"
            )
        else:
            text = "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep a bit more, Dave.\n"
        return Verbatim(text.encode())
    lines = ["Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?", ""]
    for i, (event, samples) in enumerate(obs.latency.items(), 1):
        values = [ms for _, ms in samples]
        avg = sum(values) // len(values)
        lines.append(
            f"{i}. {event}: {len(values)} latency spikes (average {avg}ms, mean deviation "
            f"{sum(abs(v - avg) for v in values) // len(values)}ms, period {_period(samples)} sec). "
            f"Worst all time event {obs.latency_max[event]}ms."
        )
    lines += ["", "I have a few advices for you:", ""]
    lines.append(
        "- Check your slow log (SLOWLOG GET) for commands that run long: in respdb every command runs on the "
        "event loop thread, so one slow command delays every client."
    )
    return Verbatim(("\n".join(lines) + "\n").encode())


def _period(samples: object) -> int:
    stamps = [ts for ts, _ in samples]  # type: ignore[attr-defined]
    return (max(stamps) - min(stamps)) // max(1, len(stamps) - 1) if len(stamps) > 1 else 0


@command("latency|graph")
def latency_graph(ctx: Client, event: bytes) -> Verbatim:
    obs = ctx.server.observer
    name = event.decode("utf-8", "replace")
    samples = obs.latency.get(name)
    if not samples:
        raise err(f"No samples available for event '{name}'")
    now = int(time.time())
    values = [ms for _, ms in samples]
    labels = [latency_ago(now - ts) for ts, _ in samples]
    text = f"{name} - high {max(values)} ms, low {min(values)} ms (all time high {obs.latency_max[name]} ms)\n"
    text += "-" * _GRAPH_COLS + "\n" + sparkline(values, labels)
    return Verbatim(text.encode())


# latency.c / sparkline.c: 80 columns, 4 rows, the filled charset, labels written downwards.
_GRAPH_COLS = 80
_GRAPH_ROWS = 4
_FILL = "_o#"


def latency_ago(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def sparkline(values: list[int], labels: list[str]) -> str:
    """sparklineRender with SPARKLINE_FILL: the samples in blocks of 80 columns, each block drawn as
    4 rows of bars (3 levels a row), a blank row, then every sample's label one character a row."""
    low, high = min(values), max(values)
    relmax = float(high - low) or 1.0
    steps = len(_FILL) * _GRAPH_ROWS
    blocks = []
    for start in range(0, len(values), _GRAPH_COLS):
        block = range(start, min(start + _GRAPH_COLS, len(values)))
        step = [min(steps - 1, max(0, int(int((values[j] - low) * steps) / relmax))) for j in block]
        lines = []
        for row in range(_GRAPH_ROWS):
            chars = []
            for s in step:
                idx = s - (_GRAPH_ROWS - row - 1) * len(_FILL)
                chars.append(_FILL[idx] if 0 <= idx < len(_FILL) else "|" if idx >= len(_FILL) else " ")
            lines.append("".join(chars))
        lines.append(" " * len(block))  # the margin between the bars and the labels
        for depth in range(max(len(labels[j]) for j in block)):
            lines.append("".join(labels[j][depth] if depth < len(labels[j]) else " " for j in block))
        blocks.append("".join(line + "\n" for line in lines))
    return "\n".join(blocks)


@command("latency|histogram")
def latency_histogram(ctx: Client, *names: bytes) -> Map:
    """Per command: calls and the cumulative distribution at power-of-two µs levels. Without names,
    every command with data; a container name (CLIENT) stands for its subcommands with data; unknown
    names are skipped and a repeated name is answered again, as in Redis."""
    specs: list[CommandSpec] = []
    if not names:
        for spec in COMMANDS.values():
            specs += [spec, *spec.subcommands.values()]
    for raw in names:
        spec = _command_by_full_name(raw)
        if spec is not None:
            specs += [spec, *spec.subcommands.values()]
    out = Map()
    for spec in specs:
        hist = spec.latency
        if not hist:
            continue
        levels = Map()
        for usec, count in cumulative(hist):
            levels += [usec, count]
        out += [spec.name.encode(), Map([b"calls", sum(hist.values()), b"histogram_usec", levels])]
    return out


def _command_by_full_name(raw: bytes) -> CommandSpec | None:
    """Redis's lookupCommandBySds: "name" or "container|sub", any case."""
    parts = raw.decode("latin-1").lower().split("|")
    if len(parts) > 2:
        return None
    spec = COMMANDS.get(parts[0])
    if spec is None or len(parts) == 1:
        return spec
    return spec.subcommands.get(parts[1])


@command("latency|help")
def latency_help(ctx: Client) -> list[Simple]:
    return _help([
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    ])


# --- WAIT --------------------------------------------------------------------------------------
@command("wait")
def wait(ctx: Client, numreplicas: bytes, timeout: bytes) -> object:
    wanted = to_int(numreplicas)
    ms = to_int(timeout, "ERR timeout is not an integer or out of range")
    if ms < 0:
        raise err("timeout is negative")
    # respdb has no replicas: the acknowledged count is always 0. Redis returns at once when no
    # replica is wanted (or inside MULTI/scripts), and otherwise waits out the timeout.
    if wanted <= 0 or ctx.in_exec:
        return 0
    deadline = time.monotonic() + ms / 1000 if ms else None
    return Block([], deadline, lambda: NOT_READY, 0)


# --- CLIENT PAUSE / UNPAUSE ---------------------------------------------------------------------
@command("client|pause")
def client_pause(ctx: Client, timeout: bytes, *mode: bytes) -> object:
    ms = to_int(timeout, "ERR timeout is not an integer or out of range")
    if ms < 0:
        raise err("timeout is negative")
    if len(mode) > 1:
        raise CommandError(errors.SYNTAX)
    kind = mode[0].lower() if mode else b"all"
    if kind not in (b"write", b"all"):
        raise err("CLIENT PAUSE mode must be WRITE or ALL")
    ctx.server.pause_clients(ms / 1000, writes_only=kind == b"write")
    return OK


@command("client|unpause")
def client_unpause(ctx: Client) -> object:
    ctx.server.unpause_clients()
    return OK
