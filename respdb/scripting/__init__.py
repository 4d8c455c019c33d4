"""Lua scripting and Redis 7 functions: the engine (engine.py), the sandbox Lua code (prelude.py),
serving clients during a slow script (busy.py) and the function libraries (library.py).

The persistence layer saves and restores function libraries through `export_libraries()` (the
source of every loaded library) and `import_libraries(sources)`.
"""

from __future__ import annotations

from typing import Any

from respdb.config import param
from respdb.server.hooks import on_server_init

param("busy-reply-threshold", "int", 5000, aliases=("lua-time-limit",), hi=2**63 - 1)

_current: Any = None  # the LuaEngine of the server in this process (one server per process)


@on_server_init
def install(server: Any) -> None:
    global _current
    from respdb.scripting.engine import LuaEngine
    from respdb.scripting.library import FunctionRegistry

    server.busy_script = None  # the RunContext of a script past busy-reply-threshold, else None
    engine = LuaEngine(server)
    engine.functions = FunctionRegistry(engine)  # type: ignore[attr-defined]
    server.scripting = engine
    _current = engine


def export_libraries() -> list[bytes]:
    """The source code of every loaded function library (what FUNCTION DUMP carries)."""
    if _current is None:
        return []
    return _current.functions.sources()


def import_libraries(sources: list[bytes]) -> None:
    """Load libraries saved by export_libraries(), replacing same-named ones; raises CommandError
    with Redis's text if one does not load."""
    if _current is None:
        return
    for code in sources:
        _current.functions.load(code, replace=True)
