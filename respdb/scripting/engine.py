"""The Lua engine behind EVAL and FCALL: one Lua 5.1 state (lupa) per server, the script cache, the
bridge that runs `redis.call` through the normal command table, and the RESP → Lua conversion.

Scripts run inline on the event-loop thread, so a fast EVALSHA costs one Lua call and nothing else.
A count hook fires every HOOK_COUNT Lua instructions; once a script has run past
`busy-reply-threshold` ms the hook serves other clients itself (busy.py: BUSY replies, SCRIPT KILL,
SHUTDOWN NOSAVE), which is also how Redis does it (processEventsWhileBlocked from the Lua hook).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import TYPE_CHECKING, Any

from lupa import lua51

from respdb import errors
from respdb.commands.dispatch import call, resolve
from respdb.commands.registry import LOOKUP, lookup
from respdb.errors import CommandError
from respdb.protocol.types import (
    OK,
    Raw,
)
from respdb.scripting.bitlib import BitLib, _type_name
from respdb.scripting.cjsonlib import CJson, JsonError
from respdb.scripting.convert import (
    ReplyConverter,
    ScriptError,
    argv_from_lua,
    lua_tonumber,
    lua_tostring,
    unwrap,
)
from respdb.scripting.msgpacklib import Cmsgpack
from respdb.scripting.prelude import PRELUDE
from respdb.scripting.structlib import StructLib
from respdb.server.client import Client

if TYPE_CHECKING:
    from respdb.server.app import Server

HOOK_COUNT = 100_000
REDIS_VERSION = b"7.0.15"
REDIS_VERSION_NUM = 0x07000F
# Commands Redis flags may-replicate (not visible in COMMAND INFO): refused in read-only scripts.
_MAY_REPLICATE = frozenset({"publish", "spublish", "pfcount"})
_UNKNOWN = b"Unknown Redis command called from script"
_WRONG_ARGS = b"Wrong number of args calling Redis command from script"
_KILLED = b"Script killed by user with SCRIPT KILL..."
_LOAD_TIMEOUT = b"FUNCTION LOAD timeout"
LOAD_TIMEOUT_S = 0.5
_LOG_LEVELS = ("debug", "verbose", "notice", "warning")
# server/acl_state.py's marker on clients whose user has restrictions (kept in step with the rules).
_ACL_MARK = "acl"


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    # Scripts must never reach a Python object's attributes (no escape to the host).
    raise AttributeError("access denied")


class RunContext:
    """One running script or function (Redis's scriptRunCtx)."""

    __slots__ = (
        "argv", "busy", "busy_at", "caller", "funcname", "is_eval", "killed", "next_poll", "read_only",
        "repl_aof", "resp3", "start", "write_dirty",
    )

    def __init__(self, caller: Client, funcname: bytes, is_eval: bool, read_only: bool, argv: list[bytes]) -> None:
        self.caller = caller
        self.funcname = funcname
        self.is_eval = is_eval
        self.read_only = read_only
        self.argv = argv
        self.write_dirty = False
        self.killed = False
        self.busy = False
        self.resp3 = False
        self.repl_aof = True
        self.start = time.perf_counter()
        self.busy_at = math.inf
        self.next_poll = 0.0


class Script:
    """A cached EVAL script: its body, compiled function and shebang flags (None: no shebang)."""

    __slots__ = ("body", "flags", "fn")

    def __init__(self, body: bytes, fn: Any, flags: frozenset[str] | None) -> None:
        self.body = body
        self.fn = fn
        self.flags = flags


SCRIPT_FLAGS = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")


def parse_shebang(body: bytes) -> tuple[frozenset[str] | None, bytes]:
    """Redis's evalExtractShebangFlags: (flags or None without shebang, body with the shebang line
    turned into a Lua comment so line numbers stay as Redis reports them)."""
    if not body.startswith(b"#!"):
        return None, body
    end = body.find(b"\n")
    if end < 0:
        raise errors.err("Invalid script shebang")
    parts = body[:end].split()
    if not parts:
        raise errors.err("Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise errors.err("Unexpected engine in script shebang: " + parts[0].decode("utf-8", "replace"))
    flags: set[str] = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise errors.err("Unknown lua shebang option: " + part.decode("utf-8", "replace"))
        for flag in part[6:].split(b","):
            name = flag.decode("utf-8", "replace")
            if name not in SCRIPT_FLAGS:
                if not part[6:]:
                    break
                raise errors.err("Unexpected flag in script shebang: " + name)
            flags.add(name)
    return frozenset(flags), b"--" + body[2:]


def sha1hex(data: bytes) -> bytes:
    return hashlib.sha1(data).hexdigest().encode()


class LuaEngine:
    """Per-server scripting state: the Lua runtime, the EVAL script cache, the running script."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.lua = lua51.LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_deny_attributes,
        )
        boot = self.lua.eval("loadstring")(PRELUDE, b"=respdb")
        # Python callables reach Lua as C functions, so a `return redis.call(...)` tail call keeps
        # the caller's frame and errors name the script line, as Redis's C functions do.
        callbacks = {
            b"call": self._redis_call, b"pcall": self._redis_pcall, b"log": self._log, b"hook": self._hook,
            b"sha1hex": self._sha1hex, b"set_repl": self._set_repl, b"setresp": self._setresp,
            b"acl_check_cmd": self._acl_check, b"register": self._register, b"unwrap": unwrap,
            b"rawset": self._rawset, b"setmetatable": self._setmetatable,
            b"HOOK_COUNT": HOOK_COUNT, b"VERSION": REDIS_VERSION, b"VERSION_NUM": REDIS_VERSION_NUM,
            b"bit": self.lua.table_from(BitLib(self._positioned_error).functions()),
            b"cjson_encode": self._cjson_encode, b"cjson_decode": self._cjson_decode, b"load": self._load,
            b"struct": self.lua.table_from(StructLib(self._positioned_error).functions()),
            b"cmsgpack": self.lua.table_from(
                Cmsgpack(
                    self._positioned_error, lambda: self.api.new_table(), lambda t: self.api.length(t),
                    lambda t: self.api.see_through(t),
                ).functions()
            ),
        }
        self.api = boot(self.lua.table_from(callbacks))
        api = self.api
        self.cjson = CJson(api.json_null, api.new_table, api.rawset, api.rawget, api.rawequal, api.see_through)
        self._error_table = self.api.error_table
        self._plain_error = self.api.plain_error_table
        self._status_table = self.api.status_table
        self._is_readonly = self.api.is_readonly
        self.replies = ReplyConverter(self.lua.table_from, self._status_table, self._error_table)
        self._run_eval = self.api.run_eval
        self._run_function = self.api.run_function
        self._table = self.lua.table_from
        # Redis's lua_client: the client that redis.call runs commands as.
        self.client = Client(server, 0, "", "")
        self.client.authenticated = True
        self.client.in_exec = True
        self.scripts: dict[bytes, Script] = {}
        self.current: RunContext | None = None
        self.load_deadline: float | None = None
        self.registering: Any = None  # the library being loaded (functions.py)
        self.busy: Any = None  # busy.BusyService while a slow script runs
        self.threshold_s = server.config.busy_reply_threshold / 1000.0
        server.config.on_change("busy-reply-threshold", self._set_threshold)

    def _set_threshold(self, value: int) -> None:
        self.threshold_s = value / 1000.0

    # --- EVAL cache -----------------------------------------------------------------------------
    def create_script(self, body: bytes) -> tuple[bytes, Script]:
        """Compile `body` into the cache (luaCreateFunction); returns (sha, script)."""
        sha = sha1hex(body)
        script = self.scripts.get(sha)
        if script is not None:
            return sha, script
        flags, code = parse_shebang(body)
        fn, error = self.api.compile(code, b"@user_script")
        if fn is None:
            raise errors.err("Error compiling script (new function): " + error.decode("utf-8", "replace"))
        script = Script(body, fn, flags)
        self.scripts[sha] = script
        return sha, script

    def flush_scripts(self) -> None:
        self.scripts.clear()
        self.lua.execute(b"collectgarbage()")

    # --- running --------------------------------------------------------------------------------
    def run(
        self, caller: Client, fn: Any, funcname: bytes, nkeys: int, args: tuple[bytes, ...], *,
        is_eval: bool, read_only: bool, argv: list[bytes],
    ) -> Raw:
        """Run a compiled script or function for `caller` and return its reply as RESP bytes."""
        run = RunContext(caller, funcname, is_eval, read_only, argv)
        client = self.client
        client.db = caller.db
        client.user = caller.user
        if client.resp3:
            client.set_protocol(False)
        if self.threshold_s > 0:
            run.busy_at = run.start + self.threshold_s
        self.current = run
        runner = self._run_eval if is_eval else self._run_function
        try:
            ok, payload = runner(fn, funcname, caller.resp3, nkeys, *args)
        except lua51.LuaError as exc:  # e.g. "error in error handling": Redis's generic failure text
            ok, payload = 0, b"ERR Error running script " + funcname + b", " + str(exc).encode()[:100]
        finally:
            self.current = None
            if run.busy:
                self.busy.finish(run)
        if ok == 1:
            return Raw(payload)
        raise CommandError(payload.decode("utf-8", "replace"))

    def kill(self, is_eval: bool) -> Raw:
        """SCRIPT KILL / FUNCTION KILL (scriptKill)."""
        run = self.current
        if run is None:
            raise CommandError("NOTBUSY No scripts in execution right now.")
        if run.write_dirty:
            raise CommandError(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. "
                "You can either wait the script termination or kill the server in a hard way using the "
                "SHUTDOWN NOSAVE command."
            )
        if is_eval and not run.is_eval:
            raise CommandError(errors.BUSY_FUNCTION)
        if not is_eval and run.is_eval:
            raise CommandError(errors.BUSY_EVAL)
        run.killed = True
        self.server.log.warning("Lua script killed by user with SCRIPT KILL.")
        return OK

    # --- callbacks from Lua ---------------------------------------------------------------------
    def _hook(self) -> bytes | None:
        run = self.current
        if run is None:
            deadline = self.load_deadline
            if deadline is not None and time.perf_counter() > deadline:
                return _LOAD_TIMEOUT
            return None
        if run.killed:
            return _KILLED
        now = time.perf_counter()
        if not run.busy:
            if now < run.busy_at:
                return None
            from respdb.scripting.busy import BusyService

            run.busy = True
            self.busy = BusyService(self.server, self, run)
        if now >= run.next_poll:
            run.next_poll = now + 0.002
            self.busy.serve()
        return _KILLED if run.killed else None

    def _redis_call(self, *args: Any) -> Any:
        kind, value = self._call(args)
        if kind == 0:
            return value
        if kind == 1:
            return self._status_table(value)
        raise ScriptError(self._error_table(value) if kind == 2 else self._plain_error(value))

    def _redis_pcall(self, *args: Any) -> Any:
        kind, value = self._call(args)
        if kind == 0:
            return value
        if kind == 1:
            return self._status_table(value)
        return self._error_table(value) if kind == 2 else self._plain_error(value)

    def _call(self, args: tuple[Any, ...]) -> tuple[int, Any]:
        """redis.call/pcall: (0, value) | (1, status) | (2, error with ignore-stats flag, "-CODE msg")
        | (3, argument error)."""
        run = self.current
        if run is None:
            return 3, b"redis.call/pcall can only be called inside a script invocation"
        argv = argv_from_lua(args)
        if argv.__class__ is bytes:
            return 3, argv
        spec = LOOKUP.get(argv[0])  # type: ignore[index]
        if spec is None or not spec.simple or (spec.arity > 0 and len(argv) != spec.arity) or len(argv) < -spec.arity:
            spec = resolve(argv)  # subcommands, a first sighting of this spelling, or an error
        if spec.__class__ is str:
            return 2, _WRONG_ARGS if spec.startswith("ERR wrong number") else _UNKNOWN  # type: ignore[union-attr]
        if "noscript" in spec.flags:  # type: ignore[union-attr]
            return 2, b"This Redis command is not allowed from script"
        caller = run.caller
        if _ACL_MARK in caller.flags_extra:
            # Scripts run with the permissions of the user who called them. Only a client whose user
            # has restrictions carries the mark (the same test admits its top-level commands).
            acl = getattr(self.server, "acl", None)
            if acl is not None:
                denied = acl.script_denied(caller, spec, argv, run.argv[0].decode("latin-1").lower())
                if denied is not None:
                    return 2, denied
        if spec.write:  # type: ignore[union-attr]
            if run.read_only:
                return 2, b"Write commands are not allowed from read-only scripts."
            run.write_dirty = True
        elif run.read_only and spec.name in _MAY_REPLICATE:  # type: ignore[union-attr]
            return 2, b"Write commands are not allowed from read-only scripts."
        if run.repl_aof:
            try:
                reply = call(self.client, spec, argv)  # type: ignore[arg-type]
            except CommandError as exc:
                return 2, b"-" + exc.text.encode("utf-8", "replace")
        else:
            # redis.set_repl(REPL_NONE/REPL_REPLICA): what the command queued stays out of the log.
            propagation = self.server.propagation
            mark = len(propagation)
            try:
                reply = call(self.client, spec, argv)  # type: ignore[arg-type]
            except CommandError as exc:
                return 2, b"-" + exc.text.encode("utf-8", "replace")
            finally:
                del propagation[mark:]
        cls = reply.__class__
        if cls is bytes or cls is int:  # ReplyConverter.to_lua's first case, without the call
            return 0, reply
        return self.replies.to_lua(reply, run.resp3)

    def _positioned_error(self, message: str) -> ScriptError:
        """A luaL_argerror-style error from a library function: "<source>:<line>: message", with
        `{name}` replaced by the name the function was called by."""
        where, name = self.api.where()
        return ScriptError(where + message.replace("{name}", name.decode("utf-8", "replace")).encode())

    def _cjson_encode(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise self._positioned_error("bad argument #1 to '{name}' (expected 1 argument)")
        try:
            return self.cjson.encode(args[0])
        except JsonError as exc:
            raise self._positioned_error(str(exc)) from None

    def _cjson_decode(self, *args: Any) -> Any:
        if len(args) != 1:
            raise self._positioned_error("bad argument #1 to '{name}' (expected 1 argument)")
        text = lua_tostring(args[0])
        if text is None:
            got = "nil" if args[0] is None else _type_name(args[0])
            raise self._positioned_error(f"bad argument #1 to '{{name}}' (string expected, got {got})")
        try:
            return self.cjson.decode(text)
        except JsonError as exc:
            raise self._positioned_error(str(exc)) from None

    def _load(self, *args: Any) -> Any:
        """load(reader [, chunkname]): a host function, so its argument error names the calling line
        even after a tail call; Lua's own load then reads the chunk (never bytecode)."""
        reader = args[0] if args else None
        kind = lua51.lua_type(reader) or ("function" if callable(reader) else _type_name(reader))
        if kind != "function":
            got = "no value" if not args else kind
            raise self._positioned_error(f"bad argument #1 to '{{name}}' (function expected, got {got})")
        name = args[1] if len(args) > 1 and args[1] is not None else b"=(load)"
        return self.api.load(reader, name)

    def _raise(self, message: bytes) -> ScriptError:
        return ScriptError(self._plain_error(message))

    def _log(self, *args: Any) -> None:
        """redis.log(level, ...): luaLogCommand's checks, then the server log."""
        if len(args) < 2:
            raise self._raise(b"redis.log() requires two arguments or more.")
        level = lua_tonumber(args[0])
        if level is None:
            raise self._raise(b"First argument must be a number (log level).")
        if not 0 <= int(level) <= 3:
            raise self._raise(b"Invalid debug level.")
        parts = [lua_tostring(a) for a in args[1:]]
        text = b" ".join(p for p in parts if p is not None).decode("utf-8", "replace")
        getattr(self.server.log, _LOG_LEVELS[int(level)])(text)

    def _sha1hex(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise self._raise(b"wrong number of arguments")
        return sha1hex(lua_tostring(args[0]) or b"")

    def _setresp(self, *args: Any) -> None:
        if len(args) != 1:
            raise self._raise(b"redis.setresp() requires one argument.")
        resp = int(lua_tonumber(args[0]) or 0)
        if resp not in (2, 3):
            raise self._raise(b"RESP version must be 2 or 3.")
        run = self.current
        if run is not None:
            run.resp3 = resp == 3
            self.client.set_protocol(run.resp3)
        self.api.set_script_resp(resp)

    def _set_repl(self, *args: Any) -> None:
        run = self.current
        if run is None:
            raise self._raise(b"redis.set_repl can only be called inside a script invocation")
        if len(args) != 1:
            raise self._raise(b"redis.set_repl() requires two arguments.")
        flags = int(lua_tonumber(args[0]) or 0)
        if flags & ~3:
            raise self._raise(b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
        run.repl_aof = bool(flags & 1)

    def _acl_check(self, *args: Any) -> bool:
        argv = argv_from_lua(args)
        if argv.__class__ is bytes:
            raise self._raise(argv)  # type: ignore[arg-type]
        found = lookup(argv[0])  # type: ignore[index]
        if found is not None and found.subcommands and len(argv) > 1:  # lookupCommand: no arity check
            found = found.subcommands.get(argv[1].decode("latin-1").lower())  # type: ignore[index]
        if found is None:
            raise self._raise(b"Invalid command passed to redis.acl_check_cmd()")
        acl = getattr(self.server, "acl", None)
        run = self.current
        if acl is None or run is None:
            return True
        return bool(acl.script_allowed(run.caller, found, argv))

    def _rawset(self, table: Any, key: Any, value: Any) -> Any:
        if self._is_readonly(table):
            raise ScriptError(b"Attempt to modify a readonly table")
        try:
            return self.api.rawset(table, key, value)
        except lua51.LuaError as exc:
            raise ScriptError(str(exc).encode()) from None

    def _setmetatable(self, table: Any, meta: Any = None) -> Any:
        if self._is_readonly(table):
            raise ScriptError(b"Attempt to modify a readonly table")
        try:
            return self.api.setmetatable(table, meta)
        except lua51.LuaError as exc:
            raise ScriptError(str(exc).encode()) from None

    def _register(self, name: bytes, callback: Any, description: bytes | None, *flags: bytes) -> bytes | None:
        if self.registering is None:
            return b"redis.register_function can only be called on FUNCTION LOAD command"
        return self.registering(name, callback, description, flags)
