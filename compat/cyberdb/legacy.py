"""Reading CyberDB 0.9.3 `data.cdb` files safely.

CyberDB saved `pickle.dump({'config': {...}, 'db': {name: dict | list}})`. Unpickling such a file with
`pickle.load` runs whatever callable the file names, so a crafted file is remote code execution. This
unpickler refuses every global (and every persistent id): only the objects pickle builds from its own
opcodes get through — None, bool, int, float, str, bytes, tuple, list, dict, set, frozenset. Files
written with pickle protocol >= 4 (CyberDB's default on Python >= 3.8) need nothing else; older
protocols spell sets and bytes as globals and are refused too (re-save them with protocol 4).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from cyberdb.extensions import BackupCyberDBError

PICKLE_START = 0x80  # the PROTO opcode every protocol >= 2 pickle begins with
_MAX_FILE = 4 << 30


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(
            f"refused global {module}.{name}: a CyberDB data file may hold only plain values "
            "(dict, list, tuple, set, str, bytes, int, float, bool, None)"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refused persistent id: a CyberDB data file holds only plain values")


def safe_loads(data: bytes) -> Any:
    return SafeUnpickler(io.BytesIO(data)).load()


def is_legacy_file(path: str | Path) -> bool:
    with open(path, "rb") as f:
        return f.read(1) == bytes([PICKLE_START])


def read_tables(path: str | Path) -> dict[str, dict | list]:
    """The tables of a CyberDB 0.9.3 data file, or BackupCyberDBError saying why it is refused."""
    path = Path(path)
    if path.stat().st_size > _MAX_FILE:
        raise BackupCyberDBError(f"{path}: too large for a CyberDB data file")
    try:
        data = safe_loads(path.read_bytes())
    except pickle.UnpicklingError as exc:
        raise BackupCyberDBError(f"{path}: unsafe or invalid CyberDB data file: {exc}") from exc
    except Exception as exc:
        raise BackupCyberDBError(f"{path}: not a CyberDB data file: {exc!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("db"), dict):
        raise BackupCyberDBError(f"{path}: not a CyberDB data file (no 'db' table map)")
    tables: dict[str, dict | list] = {}
    for name, table in data["db"].items():
        if not isinstance(name, str) or type(table) not in (dict, list):
            raise BackupCyberDBError(f"{path}: table {name!r} is not a named dict or list")
        tables[name] = table
    return tables


def import_tables(proxy: Any, tables: dict[str, dict | list]) -> None:
    """Write the tables through a connected Proxy, replacing tables of the same name."""
    existing = proxy.tables()
    for name, table in tables.items():
        if name in existing:
            proxy.delete_table(name)
        try:
            if type(table) is dict:
                proxy.create_cyberdict(name, table)
            else:
                proxy.create_cyberlist(name, table)
        except TypeError as exc:
            raise BackupCyberDBError(f"table {name!r} holds a value cyberdb cannot store: {exc}") from exc
