"""Function libraries (Redis 7 functions): FUNCTION LOAD's metadata parsing and registration rules,
the library/function tables, and the DUMP/RESTORE payload.

The payload is respdb's own (Redis's is an RDB fragment): magic, format version, the library
sources, and a SHA-1 based checksum, so a truncated or foreign payload is refused with Redis's error.
"""

from __future__ import annotations

import hashlib
import re
import struct
import time
from typing import TYPE_CHECKING, Any

from respdb import errors
from respdb.errors import CommandError
from respdb.scripting.engine import LOAD_TIMEOUT_S, SCRIPT_FLAGS

if TYPE_CHECKING:
    from respdb.scripting.engine import LuaEngine

_NAME_RE = re.compile(rb"[A-Za-z0-9_]+\Z")
_NAME_ERROR = (
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
)
PAYLOAD_MAGIC = b"RESPDBFN"
PAYLOAD_VERSION = 1
DUMP_ERROR = "ERR DUMP payload version or checksum are wrong"


class Function:
    __slots__ = ("callback", "description", "flags", "library", "name")

    def __init__(self, name: bytes, callback: Any, description: bytes | None, flags: frozenset[str], library: Library) -> None:
        self.name = name
        self.callback = callback
        self.description = description
        self.flags = flags
        self.library = library


class Library:
    __slots__ = ("code", "functions", "name")

    def __init__(self, name: bytes, code: bytes) -> None:
        self.name = name
        self.code = code
        self.functions: dict[bytes, Function] = {}


def parse_metadata(code: bytes) -> tuple[bytes, bytes]:
    """functionExtractLibMetaData: (engine, library name) from the `#!lua name=...` line."""
    if not code.startswith(b"#!"):
        raise errors.err("Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise errors.err("Invalid library metadata")
    parts = code[:end].split()
    if not parts:
        raise errors.err("Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise errors.err("Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise errors.err("Invalid metadata value given: " + part.decode("utf-8", "replace"))
    if name is None:
        raise errors.err("Library name was not given")
    return engine, name


class FunctionRegistry:
    """The loaded libraries and their functions (Redis's functionsLibCtx)."""

    def __init__(self, engine: LuaEngine) -> None:
        self.engine = engine
        self.libraries: dict[bytes, Library] = {}
        # Function names are case-insensitive in Redis: keyed by the lower-cased name.
        self.functions: dict[bytes, Function] = {}

    # --- loading --------------------------------------------------------------------------------
    @staticmethod
    def check_header(code: bytes) -> bytes:
        """Metadata, library name and engine checks, in functionsCreateWithLibraryCtx's order."""
        engine_name, name = parse_metadata(code)
        if not _NAME_RE.match(name):
            raise errors.err(_NAME_ERROR)
        if engine_name.lower() != b"lua":
            raise errors.err(f"Engine '{engine_name.decode('utf-8', 'replace')}' not found")
        return name

    def compile(self, code: bytes) -> Library:
        """Run a library's code and collect what it registers (no tables are changed)."""
        name = self.check_header(code)
        library = Library(name, code)

        def register(fname: bytes, callback: Any, description: bytes | None, flags: tuple[bytes, ...]) -> bytes | None:
            if not _NAME_RE.match(fname):
                return _NAME_ERROR.encode()
            if fname.lower() in library.functions:
                return b"Function already exists in the library"
            chosen = {f.decode().lower() for f in flags}
            library.functions[fname.lower()] = Function(
                fname, callback, description, frozenset(f for f in SCRIPT_FLAGS if f in chosen), library
            )
            return None

        lua = self.engine
        lua.registering = register
        lua.load_deadline = time.perf_counter() + LOAD_TIMEOUT_S
        try:
            status, message = lua.api.load_library(b"--" + code[2:], b"@user_function")
        finally:
            lua.registering = None
            lua.load_deadline = None
        if status == 1:
            raise errors.err("Error compiling function: " + message.decode("utf-8", "replace"))
        if status == 2:
            raise errors.err("Error registering functions: " + message.decode("utf-8", "replace"))
        if not library.functions:
            raise errors.err("No functions registered")
        return library

    def load(self, code: bytes, replace: bool) -> bytes:
        """FUNCTION LOAD [REPLACE]: returns the library name."""
        name = self.check_header(code)
        old = self.libraries.get(name)
        if old is not None and not replace:
            raise errors.err(f"Library '{name.decode('utf-8', 'replace')}' already exists")
        library = self.compile(code)
        for key, function in library.functions.items():
            owner = self.functions.get(key)
            if owner is not None and owner.library is not old:
                raise errors.err(f"Function {function.name.decode('utf-8', 'replace')} already exists")
        if old is not None:
            self._unlink(old)
        self._link(library)
        return name

    def _link(self, library: Library) -> None:
        self.libraries[library.name] = library
        self.functions.update(library.functions)

    def _unlink(self, library: Library) -> None:
        del self.libraries[library.name]
        for fname in library.functions:
            self.functions.pop(fname, None)

    def delete(self, name: bytes) -> None:
        library = self.libraries.get(name)
        if library is None:
            raise errors.err("Library not found")
        self._unlink(library)

    def flush(self) -> None:
        self.libraries.clear()
        self.functions.clear()

    def sources(self) -> list[bytes]:
        return [lib.code for lib in self.libraries.values()]

    # --- DUMP / RESTORE -------------------------------------------------------------------------
    def dump(self) -> bytes:
        body = PAYLOAD_MAGIC + bytes([PAYLOAD_VERSION]) + struct.pack(">I", len(self.libraries))
        body += b"".join(struct.pack(">I", len(c)) + c for c in self.sources())
        return body + hashlib.sha1(body).digest()[:8]

    @staticmethod
    def parse_payload(payload: bytes) -> list[bytes]:
        header = len(PAYLOAD_MAGIC) + 5
        if len(payload) < header + 8 or not payload.startswith(PAYLOAD_MAGIC):
            raise CommandError(DUMP_ERROR)
        body, checksum = payload[:-8], payload[-8:]
        if body[len(PAYLOAD_MAGIC)] != PAYLOAD_VERSION or hashlib.sha1(body).digest()[:8] != checksum:
            raise CommandError(DUMP_ERROR)
        (count,) = struct.unpack_from(">I", body, len(PAYLOAD_MAGIC) + 1)
        pos = header
        codes = []
        for _ in range(count):
            if pos + 4 > len(body):
                raise CommandError(DUMP_ERROR)
            (n,) = struct.unpack_from(">I", body, pos)
            codes.append(body[pos + 4:pos + 4 + n])
            pos += 4 + n
        if pos != len(body):
            raise CommandError(DUMP_ERROR)
        return codes

    def restore(self, payload: bytes, policy: str) -> None:
        """FUNCTION RESTORE with APPEND, REPLACE or FLUSH (libraryJoin's collision rules)."""
        staged: dict[bytes, Library] = {}
        staged_functions: dict[bytes, Function] = {}
        for code in self.parse_payload(payload):
            library = self.compile(code)
            if library.name in staged:
                raise errors.err(f"Library '{library.name.decode('utf-8', 'replace')}' already exists")
            for key, function in library.functions.items():
                if key in staged_functions:
                    raise errors.err(f"Function {function.name.decode('utf-8', 'replace')} already exists")
            staged[library.name] = library
            staged_functions.update(library.functions)
        if policy == "flush":
            self.flush()
        replaced = []
        for name in staged:
            old = self.libraries.get(name)
            if old is not None:
                if policy != "replace":
                    raise errors.err(f"Library {name.decode('utf-8', 'replace')} already exists")
                replaced.append(old)
        replaced_ids = {id(lib) for lib in replaced}
        for key, function in staged_functions.items():
            owner = self.functions.get(key)
            if owner is not None and id(owner.library) not in replaced_ids:
                raise errors.err(f"Function {function.name.decode('utf-8', 'replace')} already exists")
        for old in replaced:
            self._unlink(old)
        for library in staged.values():
            self._link(library)
