"""Command handlers, one module per family; importing a module registers its commands."""

from __future__ import annotations

import importlib
import pkgutil

_loaded = False
# Packages whose modules register commands, config parameters or server installers at import time.
FEATURE_PACKAGES = ("respdb.commands", "respdb.server", "respdb.persistence", "respdb.scripting")


def load_all() -> None:
    """Import every feature module so each @command, param() and @on_server_init has run
    before a Config or Server is built (a new module needs no wiring)."""
    global _loaded
    if _loaded:
        return
    for package_name in FEATURE_PACKAGES:
        try:
            package = importlib.import_module(package_name)
        except ModuleNotFoundError:
            continue
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(info.name)
    from respdb.commands.read_stats import mark_read_commands

    mark_read_commands()  # spec.reads, once every command is registered
    from respdb.commands.dispatch import mark_native_commands

    mark_native_commands()
    _loaded = True
