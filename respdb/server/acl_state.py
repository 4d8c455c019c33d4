"""The server's ACL state and hooks: users by name, the default user, the ACL log, the aclfile, and
the functions that authenticate clients and refuse what their user may not run.

Clients authenticated as a user without restrictions stay `plain` (dispatch's fast path checks
nothing); a restricted user's clients carry the "acl" marker in `flags_extra`, which sends every
command through `server.reject`, where `_reject` runs the check. The marker is resynchronised
whenever a user's rules change (SETUSER, LOAD, requirepass).
"""

from __future__ import annotations

import os
import time
from typing import Any

from respdb.commands.connection import client_info_line
from respdb.commands.registry import CommandSpec
from respdb.config import param
from respdb.errors import StartupError
from respdb.server import acl as rules
from respdb.server.acl import RuleError, User, has_spaces, merge_selector_args
from respdb.server.client import Client
from respdb.server.hooks import on_server_init


def _s(b: bytes) -> str:
    return b.decode("utf-8", "replace")


param("aclfile", "string", "", mutable=False)
param("acllog-max-len", "int", 128)
param("acl-pubsub-default", "enum", "resetchannels", choices=("allchannels", "resetchannels"))

_MARK = "acl"
_LOG_GROUP_MS = 60_000
REASONS = {rules.DENIED_CMD: b"command", rules.DENIED_KEY: b"key", rules.DENIED_AUTH: b"auth", rules.DENIED_CHANNEL: b"channel"}
_NOPERM = {
    rules.DENIED_CMD: "NOPERM this user has no permissions to run the '{name}' command",
    rules.DENIED_KEY: "NOPERM this user has no permissions to access one of the keys used as arguments",
    rules.DENIED_CHANNEL: "NOPERM this user has no permissions to access one of the channels used as arguments",
}
_EXEC_DENIED = {
    rules.DENIED_CMD: "no permission to execute the command or subcommand",
    rules.DENIED_KEY: "no permission to touch the specified keys",
    rules.DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
}
_SCRIPT_DENIED = {
    rules.DENIED_CMD: b"The user executing the script can't run this command or subcommand",
    rules.DENIED_KEY: b"The user executing the script can't access at least one of the keys mentioned in the command arguments",
    rules.DENIED_CHANNEL: b"The user executing the script can't publish to the channel mentioned in the command",
}


class LogEntry:
    __slots__ = ("cinfo", "context", "count", "ctime", "object", "reason", "username")

    def __init__(self, reason: int, context: bytes, obj: bytes, username: bytes, cinfo: bytes) -> None:
        self.count = 1
        self.reason, self.context, self.object, self.username, self.cinfo = reason, context, obj, username, cinfo
        self.ctime = time.time() * 1000


class AclState:
    """Users by name (ACL LIST sorts them as Redis's radix tree does), the default user, the log."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.users: dict[bytes, User] = {}
        self.default = self.new_default()
        self.users[b"default"] = self.default
        self.log: list[LogEntry] = []

    @property
    def pubsub_all(self) -> bool:
        return self.server.config.acl_pubsub_default == "allchannels"

    def new_user(self, name: bytes) -> User:
        return User(name, self.pubsub_all)

    def new_default(self) -> User:
        user = self.new_user(b"default")
        for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            user.apply(op)
        return user

    def set_requirepass(self, password: str) -> None:
        """ACLUpdateDefaultUserPassword: requirepass replaces the default user's passwords."""
        self.default.apply(b"resetpass")
        self.default.apply(b">" + password.encode("utf-8", "surrogateescape") if password else b"nopass")
        self.sync_clients()

    def auth_required(self) -> bool:
        flags = self.default.flags
        return "nopass" not in flags or "off" in flags

    # --- clients ---------------------------------------------------------------------------------
    def user_of(self, client: Client) -> User:
        return getattr(client, "acl_user", None) or self.default

    def mark(self, client: Client) -> None:
        """Put the client on the checked path iff its user has restrictions."""
        if self.user_of(client).unrestricted:
            client.flags_extra.discard(_MARK)
        else:
            client.flags_extra.add(_MARK)
        client.refresh_plain()

    def sync_clients(self) -> None:
        """After a rule change: markers, and whether clients that never authenticated may run
        commands (Redis's authRequired() looks at the default user on every command)."""
        open_to_all = not self.auth_required()
        for client in list(self.server.clients.values()):
            if client.killed:
                continue
            authed = getattr(client, "acl_authed", client.authenticated) or open_to_all
            if authed != client.authenticated:
                client.authenticated = authed
                if client.conn is not None:
                    client.conn.parser.auth_required = not authed
            self.mark(client)

    def client_reset(self, client: Client) -> None:
        """RESET: the client is the default user again, authenticated iff that needs no password."""
        client.acl_authed = client.authenticated  # type: ignore[attr-defined]
        self.mark(client)

    def kill_clients_of(self, users: set[int], current: Client | None) -> None:
        """ACLFreeUserAndKillClients: connections of deleted users are closed (the caller after
        its reply), their user reset to an unauthenticated default first."""
        for client in list(self.server.clients.values()):
            if id(self.user_of(client)) in users:
                client.acl_user = self.default  # type: ignore[attr-defined]
                client.user = "default"
                client.authenticated = client.acl_authed = False  # type: ignore[attr-defined]
                client.refresh_plain()  # pipelined commands still queued get NOAUTH, never run
                client.kill(current)

    def authenticate(self, username: bytes, password: bytes, client: Client | None = None) -> str | None:
        user = self.users.get(username)
        if user is not None and user.check_password(password):
            if client is not None:
                client.acl_user = user  # type: ignore[attr-defined]
                client.acl_authed = True  # type: ignore[attr-defined]
                if user.unrestricted:
                    client.flags_extra.discard(_MARK)
                else:
                    client.flags_extra.add(_MARK)
            return username.decode("utf-8", "replace")
        if client is not None:
            # Redis logs argv[0] as sent; it is known here only on dispatch's slow path (clients not
            # yet authenticated), otherwise "AUTH" as redis-py and redis-cli send it.
            pubsub = self.server.pubsub
            argv = pubsub.current_argv if pubsub.current is client else None
            obj = argv[0] if argv else b"AUTH"
            context = b"multi" if client.multi is not None else b"toplevel"
            self.add_log(client, rules.DENIED_AUTH, context, obj, username, obj.decode("latin-1").lower())
        return None

    # --- log -------------------------------------------------------------------------------------
    def add_log(self, client: Client, reason: int, context: bytes, obj: bytes, username: bytes, cmd: str) -> None:
        saved = client.last_cmd
        client.last_cmd = cmd  # the client info shows the command being refused, as Redis's does
        try:
            cinfo = client_info_line(client).encode()
        finally:
            client.last_cmd = saved
        entry = LogEntry(reason, context, obj, username, cinfo)
        for i, old in enumerate(self.log[:10]):
            if (
                old.reason == reason and old.context == context and abs(old.ctime - entry.ctime) <= _LOG_GROUP_MS
                and old.object == obj and old.username == username
            ):
                del self.log[i]
                old.cinfo, old.ctime = cinfo, entry.ctime
                old.count += 1
                self.log.insert(0, old)
                return
        self.log.insert(0, entry)
        del self.log[self.server.config.acllog_max_len :]

    def denied(self, client: Client, spec: CommandSpec, argv: list[bytes], context: bytes) -> int:
        """Check `argv` for the client's user; log and return the reason when refused (0 if allowed)."""
        user = self.user_of(client)
        result, idx = user.check(spec, argv)
        if result != rules.OK:
            obj = spec.name.encode() if result == rules.DENIED_CMD else argv[idx]
            self.add_log(client, result, context, obj, user.name, spec.name)
        return result

    def script_denied(self, caller: Client, spec: CommandSpec, argv: list[bytes], caller_cmd: str) -> bytes | None:
        """The redis.call error when the script's caller may not run argv (logged, context lua)."""
        user = self.user_of(caller)
        if user.unrestricted:
            return None
        result, idx = user.check(spec, argv)
        if result == rules.OK:
            return None
        obj = spec.name.encode() if result == rules.DENIED_CMD else argv[idx]
        self.add_log(caller, result, b"lua", obj, user.name, caller_cmd)
        return _SCRIPT_DENIED[result]

    def script_allowed(self, caller: Client, spec: CommandSpec, argv: list[bytes]) -> bool:
        """redis.acl_check_cmd (no log entry)."""
        return self.user_of(caller).check(spec, argv)[0] == rules.OK

    # --- aclfile ---------------------------------------------------------------------------------
    def load_file(self, path: str, current: Client | None) -> str | None:
        """ACLLoadFromFile: all or nothing; returns the error description or None."""
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError as exc:
            return f"Error loading ACLs, opening file '{path}': {exc.strerror}"
        errors_text = ""
        users: dict[bytes, User] = {}
        for linenum, raw in enumerate(text.split(b"\n"), 1):
            line = raw.strip(b" \t\r\n")
            if not line:
                continue
            argv = line.split(b" ")
            if argv[0] != b"user" or len(argv) < 2:
                errors_text += f"{path}:{linenum} should start with user keyword followed by the username. "
                continue
            name = argv[1]
            if has_spaces(name):
                errors_text += f"'{path}:{linenum}: username '{name.decode('utf-8', 'replace')}' contains invalid characters. "
                continue
            if name in users:
                errors_text += f"WARNING: Duplicate user '{name.decode('utf-8', 'replace')}' found on line {linenum}. "
                continue
            user = users[name] = self.new_user(name)
            merged, _ = merge_selector_args(argv[2:])
            if merged is None:
                errors_text += f"{path}:{linenum}: Unmatched parenthesis in selector definition."
                merged = []
            for op in merged:
                try:
                    user.apply(op.strip(b"\t\r\n"), self.pubsub_all)
                except RuleError as exc:
                    if str(exc) == rules.E_UNKNOWN:  # only this text names the rule: others may hold a password
                        errors_text += f"{path}:{linenum}: Error in applying operation '{_s(op)}': {exc}. "
                    else:
                        errors_text += f"{path}:{linenum}: {exc}. "
        if errors_text:
            return errors_text + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        self.default.copy_from(users.pop(b"default", None) or self.new_default())
        users[b"default"] = self.default
        old = {id(u) for name, u in self.users.items() if name != b"default"}
        self.users = users
        self.kill_clients_of(old, current)
        self.sync_clients()
        return None

    def load_config_users(self, lines: list[list[str]]) -> None:
        """`user` lines of the config file (ACLLoadConfiguredUsers); any error stops startup."""
        if self.server.config.aclfile:
            raise StartupError(
                "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is "
                "invalid. This setup is very likely to lead to configuration errors and security holes, please "
                "define either an ACL file or declare users directly in your redis.conf, but not both."
            )
        seen: set[bytes] = set()
        for words in lines:
            name = words[0].encode("utf-8", "surrogateescape")
            if name in seen:
                raise StartupError(f"Error in user declaration '{words[0]}': Duplicate user found. A user can only be defined once in config files")
            seen.add(name)
            if has_spaces(name):
                raise StartupError("Spaces not allowed in ACL usernames")
            merged, _ = merge_selector_args([w.encode("utf-8", "surrogateescape") for w in words[1:]])
            if merged is None:
                raise StartupError(f"Error in user declaration '{words[0]}': Unmatched parenthesis in selector definition")
            user = self.users.get(name)
            if user is None:
                user = self.users[name] = self.new_user(name)
            else:
                user.apply(b"reset", self.pubsub_all)
            for op in merged:
                try:
                    user.apply(op, self.pubsub_all)
                except RuleError as exc:
                    raise StartupError(
                        f"Error loading ACL rule '{_s(op)}' for the user named '{words[0]}': {exc}"
                    ) from None

    def save_file(self, path: str) -> bool:
        data = b"".join(b"user " + name + b" " + self.users[name].describe() + b"\n" for name in sorted(self.users))
        tmp = f"{path}.tmp-{os.getpid()}-{int(time.time() * 1000)}"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            self.server.log.warning(f"Writing ACL file for ACL SAVE: {exc.strerror}")
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        return True


def _reject(client: Client, spec: CommandSpec, argv: list[bytes]) -> str | None:
    # The marker is kept in step with the user's rules (mark/sync_clients), so clients of
    # unrestricted users that are off the fast path for other reasons (MULTI, pub/sub) pay one
    # set lookup here.
    if _MARK not in client.flags_extra:
        return None
    state: AclState = client.server.acl
    context = b"multi" if client.multi is not None else b"toplevel"
    result = state.denied(client, spec, argv, context)
    if result == rules.OK:
        return None
    return _NOPERM[result].format(name=spec.name)


def _exec_check(client: Client, spec: CommandSpec, argv: list[bytes]) -> str | None:
    """EXEC checks each queued command again: the rules may have changed since it was queued."""
    if _MARK not in client.flags_extra:
        return None
    state: AclState = client.server.acl
    user = state.user_of(client)
    result, idx = user.check(spec, argv)
    if result == rules.OK:
        return None
    obj = spec.name.encode() if result == rules.DENIED_CMD else argv[idx]
    state.add_log(client, result, b"multi", obj, user.name, "exec")
    return (
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. "
        "This command is no longer allowed for the following reason: " + _EXEC_DENIED[result]
    )


@on_server_init
def install(server: Any) -> None:
    state = AclState(server)
    rules.warn = server.log.warning
    server.acl = state
    if server.config.requirepass:
        state.set_requirepass(server.config.requirepass)
    server.config.on_change("requirepass", state.set_requirepass)
    server.auth_required = state.auth_required
    server.acl_authenticate = state.authenticate
    server.acl_user_changed = state.client_reset
    server.acl_exec_check = _exec_check
    server.reject_hooks.insert(0, _reject)
    accept = server.accept_client

    def accept_client(client: Client, peer: Any) -> bytes | None:
        refused = accept(client, peer)
        if refused is None:
            client.acl_authed = client.authenticated  # type: ignore[attr-defined]
            if not state.default.unrestricted:
                state.mark(client)
        return refused

    server.accept_client = accept_client
    if server.config.acl_users:
        state.load_config_users(server.config.acl_users)
    if server.config.aclfile:
        problems = state.load_file(server.config.aclfile, None)
        if problems is not None:
            raise StartupError(f"Aborting Redis startup because of ACL errors: {problems}")
