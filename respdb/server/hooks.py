"""Feature installation: modules register `install(server)` functions at import time.

A feature (AOF, pub/sub, notifications, ACL, ...) that needs per-server state or hooks decorates an
installer with @on_server_init; every Server runs them all in its constructor, so features attach
to the hook lists of app.Server without app.py knowing about them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

INSTALLERS: list[Callable[[Any], None]] = []


def on_server_init(fn: Callable[[Any], None]) -> Callable[[Any], None]:
    INSTALLERS.append(fn)
    return fn
