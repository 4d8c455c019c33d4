"""Function libraries travel with the data (as in Redis): snapshots and rewritten logs carry their
sources, and loading a file loads them back through the scripting engine."""

from __future__ import annotations

from respdb.errors import CommandError
from respdb.persistence import snapshot
from respdb.scripting import export_libraries, import_libraries

__all__ = ["export_libraries", "install_functions"]


def install_functions(loaded: snapshot.Loaded) -> None:
    """Load the function libraries a snapshot carried."""
    if loaded.functions:
        try:
            import_libraries(loaded.functions)
        except CommandError as exc:
            raise snapshot.SnapshotError(f"a saved function library does not load: {exc.text}") from None
