"""Persistence configuration parameters and the server installer that wires the hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from respdb.config import INT_MAX, LLONG_MAX, param
from respdb.persistence.manager import Persistence
from respdb.server.hooks import on_server_init

if TYPE_CHECKING:
    from respdb.server.app import Server

param("save", "save", [(3600, 1), (300, 100), (60, 10000)])
param("appendonly", "bool", False)
param("appendfsync", "enum", "everysec", choices=("everysec", "always", "no"))  # Redis lists them in this order
param("appendfilename", "string", "appendonly.aof", mutable=False)
param("auto-aof-rewrite-percentage", "int", 100, hi=INT_MAX)
param("auto-aof-rewrite-min-size", "memory", 64 * 1024 * 1024, hi=LLONG_MAX)
param("aof-load-truncated", "bool", True)
param("stop-writes-on-bgsave-error", "bool", True)
# The key is fixed for the life of the process: files written under one key must be readable at restart.
param("cdb-encryption-key", "string", "", mutable=False, secret=True)
param("cdb-encryption-key-file", "string", "", mutable=False)


@on_server_init
def install(server: Server) -> None:
    """Attach persistence to a new server and load its data (StartupError stops the start)."""
    p = Persistence(server)
    server.persistence = p  # type: ignore[attr-defined]
    server.cron_hooks.append(p.cron)
    server.prepare_shutdown_hooks.append(p.prepare_shutdown)
    server.shutdown_hooks.append(p.shutdown)
    server.reject_hooks.append(p.reject)
    server.flushall_hooks.append(p.after_flushall)
    server.info_sections["persistence"] = lambda s: p.info()
    server.config.on_change("appendonly", p.aof.set_enabled)
    p.load_at_start()
