"""INFO sections: each a function returning (field, value) pairs; features add their own sections."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import TYPE_CHECKING, Any

from respdb import REDIS_VERSION, __version__
from respdb.server.latency_hist import percentiles_line

if TYPE_CHECKING:
    from respdb.server.app import Server

DEFAULT_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace"]
ALL_EXTRA = ["commandstats", "latencystats"]


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def human(n: float) -> str:
    for unit in ("B", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            return f"{n:.2f}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return str(n)


def section_server(s: Server) -> list[tuple[str, Any]]:
    uptime = int(time.time() - s.start_time)
    return [
        ("redis_version", REDIS_VERSION),
        ("respdb_version", __version__),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_mode", "standalone"),
        ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("multiplexing_api", "epoll" if sys.platform.startswith("linux") else "kqueue"),
        ("python_version", platform.python_version()),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", s.run_id),
        ("tcp_port", s.port),
        ("server_time_usec", int(time.time() * 1e6)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", s.config.hz),
        ("configured_hz", s.config.hz),
        ("executable", os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""),
        ("config_file", os.path.abspath(s.config.config_file) if s.config.config_file else ""),
    ]


def section_clients(s: Server) -> list[tuple[str, Any]]:
    clients = list(s.clients.values())
    return [
        ("connected_clients", len(clients)),
        ("maxclients", s.config.maxclients),
        ("blocked_clients", sum(1 for c in clients if c.blocked is not None)),
        ("pubsub_clients", sum(1 for c in clients if c.channels or c.patterns or c.shard_channels)),
        ("watching_clients", sum(1 for c in clients if c.watching)),
    ]


def _total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        return 0


def section_memory(s: Server) -> list[tuple[str, Any]]:
    # Fields as Redis 7.0 names them; `used_memory` is server/memory.py's estimate (what maxmemory
    # is checked against), startup = the empty server's RSS, dataset = the keyspace's share.
    mem = s.memory  # type: ignore[attr-defined]
    mem.resample()  # what the keyspace holds now, not as of the last cron tick
    rss = rss_bytes()
    used = s.used_memory()
    peak = max(mem.peak, used)
    startup = mem.baseline
    overhead = startup + mem.tables()
    dataset = used - overhead
    maxmemory = s.config.maxmemory
    system = _total_system_memory()
    return [
        ("used_memory", used),
        ("used_memory_human", human(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", human(peak)),
        ("used_memory_peak_perc", f"{used * 100 / peak:.2f}%"),
        ("used_memory_overhead", overhead),
        ("used_memory_startup", startup),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", f"{dataset * 100 / max(1, used - startup):.2f}%"),
        ("total_system_memory", system),
        ("total_system_memory_human", human(system)),
        ("maxmemory", maxmemory),
        ("maxmemory_human", human(maxmemory)),
        ("maxmemory_policy", s.config.maxmemory_policy),
        ("mem_fragmentation_ratio", f"{rss / used:.2f}"),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", 0),
        ("mem_aof_buffer", 0),
        ("mem_allocator", "pymalloc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", 0),
    ]


def _rates(s: Server) -> tuple[float, float, float]:
    """Per-second rates over the cron's recent samples (Redis averages its last 16 samples too)."""
    samples = s.rate_samples
    if len(samples) < 2:
        return 0.0, 0.0, 0.0
    (t0, ops0, in0, out0), (t1, ops1, in1, out1) = samples[0], samples[-1]
    span = t1 - t0
    if span <= 0:
        return 0.0, 0.0, 0.0
    return (ops1 - ops0) / span, (in1 - in0) / span / 1024, (out1 - out0) / span / 1024


def section_stats(s: Server) -> list[tuple[str, Any]]:
    ops, kin, kout = _rates(s)
    return [
        ("total_connections_received", s.connections_received),
        ("total_commands_processed", s.commands_processed),
        ("instantaneous_ops_per_sec", int(ops)),
        ("total_net_input_bytes", s.net_input_bytes),
        ("total_net_output_bytes", s.net_output_bytes),
        ("instantaneous_input_kbps", f"{kin:.2f}"),
        ("instantaneous_output_kbps", f"{kout:.2f}"),
        ("rejected_connections", s.rejected_connections),
        ("expired_keys", s.keyspace.expired_keys),
        ("evicted_keys", s.memory.evicted_keys),  # type: ignore[attr-defined]
        # Counted by the keyspace's read lookups (Redis's lookupKeyRead).
        ("keyspace_hits", s.keyspace.hits),
        ("keyspace_misses", s.keyspace.misses),
        ("total_error_replies", s.total_error_replies),
    ]


def section_replication(s: Server) -> list[tuple[str, Any]]:
    return [("role", "master"), ("connected_slaves", 0), ("master_repl_offset", 0)]


def section_cpu(s: Server) -> list[tuple[str, Any]]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        ("used_cpu_sys", f"{ru.ru_stime:.6f}"),
        ("used_cpu_user", f"{ru.ru_utime:.6f}"),
        ("used_cpu_sys_children", f"{ch.ru_stime:.6f}"),
        ("used_cpu_user_children", f"{ch.ru_utime:.6f}"),
    ]


def section_errorstats(s: Server) -> list[tuple[str, Any]]:
    return [(f"errorstat_{code}", f"count={n}") for code, n in sorted(s.error_counts.items())]


def section_commandstats(s: Server) -> list[tuple[str, Any]]:
    from respdb.commands.registry import COMMANDS

    out = []
    for spec in COMMANDS.values():
        for sp in [spec, *spec.subcommands.values()]:
            if sp.calls or sp.rejected_calls or sp.failed_calls:
                usec = sp.usec * 1e6  # stored in seconds: one float add per call on the hot path
                per = usec / sp.calls if sp.calls else 0.0
                out.append(
                    (
                        f"cmdstat_{sp.name}",
                        f"calls={sp.calls},usec={int(usec)},usec_per_call={per:.2f},"
                        f"rejected_calls={sp.rejected_calls},failed_calls={sp.failed_calls}",
                    )
                )
    return out


def section_latencystats(s: Server) -> list[tuple[str, Any]]:
    """Per-command latency percentiles, for the commands whose histogram holds calls; the section is
    empty while latency-tracking is off (the histograms are kept, as in Redis)."""
    from respdb.commands.registry import COMMANDS

    if not s.config.latency_tracking:
        return []
    percentiles = s.config.latency_tracking_info_percentiles
    out = []
    for spec in COMMANDS.values():
        for sp in [spec, *spec.subcommands.values()]:
            if sp.latency:
                out.append((f"latency_percentiles_usec_{sp.name}", percentiles_line(sp.latency, percentiles)))
    return out


def section_cluster(s: Server) -> list[tuple[str, Any]]:
    return [("cluster_enabled", 0)]


def section_keyspace(s: Server) -> list[tuple[str, Any]]:
    out = []
    for db in s.keyspace.dbs:
        if db.data:
            out.append((f"db{db.id}", f"keys={len(db.data)},expires={len(db.expires)},avg_ttl={db.avg_ttl}"))
    return out


SECTIONS = {
    "server": section_server,
    "clients": section_clients,
    "memory": section_memory,
    "stats": section_stats,
    "replication": section_replication,
    "cpu": section_cpu,
    "modules": lambda s: [],
    "errorstats": section_errorstats,
    "commandstats": section_commandstats,
    "latencystats": section_latencystats,
    "cluster": section_cluster,
    "keyspace": section_keyspace,
}


def render(s: Server, names: list[str]) -> str:
    """The INFO text for the requested section names (Redis's default/all/everything rules)."""
    wanted: list[str] = []
    low = [n.lower() for n in names]
    order = DEFAULT_SECTIONS + [x for x in s.info_sections if x not in DEFAULT_SECTIONS] + ALL_EXTRA
    if not low or "default" in low:
        wanted += DEFAULT_SECTIONS
    if "all" in low or "everything" in low:
        wanted += order
    wanted += low
    seen = set()
    parts = []
    for name in order + [n for n in low if n not in order]:
        if name not in wanted or name in seen:
            continue
        seen.add(name)
        fn = s.info_sections.get(name) or SECTIONS.get(name)
        if fn is None:
            continue
        fields = fn(s)
        parts.append(f"# {name.capitalize() if name != 'cpu' else 'CPU'}\r\n" + "".join(f"{k}:{v}\r\n" for k, v in fields))
    return "\r\n".join(parts)
