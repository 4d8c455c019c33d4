"""Connection commands: PING, ECHO, AUTH, HELLO, SELECT, QUIT, RESET, CLIENT *."""

from __future__ import annotations

import hmac
import time

from respdb import REDIS_VERSION, errors
from respdb.commands.args import to_int
from respdb.commands.dispatch import NO_REPLY
from respdb.commands.registry import command
from respdb.errors import CommandError, err
from respdb.protocol.types import OK, PONG, Map, Push, Raw, Simple, Verbatim
from respdb.server.client import Client


@command("ping")
def ping(ctx: Client, *message: bytes) -> object:
    if len(message) > 1:
        raise CommandError(errors.WRONG_ARGS.format(name="ping"))
    if (ctx.channels or ctx.patterns or ctx.shard_channels) and not ctx.resp3:
        # In RESP2 subscriber mode PING answers as a pub/sub message.
        return [b"pong", message[0] if message else b""]
    return message[0] if message else PONG


@command("echo")
def echo(ctx: Client, message: bytes) -> bytes:
    return message


def check_password(ctx: Client, username: bytes, password: bytes) -> None:
    """Authenticate `ctx` or raise WRONGPASS; constant-time comparison."""
    server = ctx.server
    checker = getattr(server, "acl_authenticate", None)
    if checker is not None:
        user = checker(username, password, ctx)
        if user is None:
            raise CommandError(errors.WRONGPASS)
        ctx.user = user
    else:
        expected = server.config.requirepass.encode()
        ok = username == b"default" and (not expected or hmac.compare_digest(password, expected))
        if not ok:
            raise CommandError(errors.WRONGPASS)
        ctx.user = "default"
    ctx.authenticated = True
    ctx.refresh_plain()


@command("auth")
def auth(ctx: Client, *args: bytes) -> object:
    if len(args) > 2:
        raise CommandError(errors.SYNTAX)
    if len(args) == 1:
        acl = getattr(ctx.server, "acl", None)
        if ("nopass" in acl.default.flags) if acl is not None else not ctx.server.config.requirepass:
            raise CommandError(errors.AUTH_NOT_CONFIGURED)
        check_password(ctx, b"default", args[0])
    else:
        check_password(ctx, args[0], args[1])
    return OK


@command("hello")
def hello(ctx: Client, *args: bytes) -> object:
    resp3 = ctx.resp3
    i = 0
    if args:
        try:
            version = to_int(args[0])
        except CommandError:
            raise CommandError("ERR Protocol version is not an integer or out of range") from None
        if version not in (2, 3):
            raise CommandError(errors.NOPROTO)
        resp3 = version == 3
        i = 1
    name = None
    while i < len(args):
        opt = args[i].lower()
        more = len(args) - i - 1
        if opt == b"auth" and more >= 2:
            check_password(ctx, args[i + 1], args[i + 2])
            i += 3
        elif opt == b"setname" and more >= 1:
            name = args[i + 1]
            _check_name(name)
            i += 2
        else:
            raise CommandError(f"ERR Syntax error in HELLO option '{args[i].decode('utf-8', 'replace')}'")
    if not ctx.authenticated:
        raise CommandError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
    if name is not None:
        ctx.name = name
    ctx.set_protocol(resp3)
    return Map(
        [
            b"server", b"redis",
            b"version", REDIS_VERSION.encode(),
            b"proto", 3 if resp3 else 2,
            b"id", ctx.id,
            b"mode", b"standalone",
            b"role", b"master",
            b"modules", [],
        ]
    )


@command("select")
def select(ctx: Client, index: bytes) -> object:
    db = to_int(index)
    if not 0 <= db < len(ctx.keyspace):
        raise CommandError(errors.DB_INDEX)
    ctx.select(db)
    return OK


@command("quit")
def quit_(ctx: Client, *args: bytes) -> object:
    ctx.close_after_reply = True
    return OK


@command("reset")
def reset(ctx: Client) -> object:
    server = ctx.server
    for hook in server.reset_hooks:
        hook(ctx)
    ctx.multi = None
    ctx.multi_error = False
    ctx.select(0)
    ctx.set_protocol(False)
    ctx.name = b""
    ctx.reply_mode = b"on"
    ctx.no_evict = ctx.no_touch = False
    ctx.flags_extra.clear()
    ctx.authenticated = not server.auth_required()
    ctx.user = "default"
    user_changed = getattr(server, "acl_user_changed", None)
    if user_changed is not None:  # ACL: back to the default user, whose rules may restrict
        ctx.acl_user = None  # type: ignore[attr-defined]
        user_changed(ctx)
    ctx.refresh_plain()
    return Simple(b"RESET")


# --- CLIENT ------------------------------------------------------------------------------------
def _check_name(name: bytes) -> None:
    if any(c < 33 or c > 126 for c in name):
        raise CommandError("ERR Client names cannot contain spaces, newlines or special characters.")


def client_info_line(c: Client) -> str:
    conn = c.conn
    qbuf = conn.parser.pending() if conn is not None else 0
    omem = conn.output_buffer_size() if conn is not None else 0
    now = time.time()
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd={c.fd} name={c.name.decode('utf-8', 'replace')} "
        f"age={int(now - c.created)} idle={int(now - c.last_interaction)} flags={c.flags_string()} "
        f"db={c.db.id} sub={len(c.channels)} psub={len(c.patterns)} ssub={len(c.shard_channels)} "
        f"multi={len(c.multi) if c.multi is not None else -1} qbuf={qbuf} qbuf-free=0 argv-mem=0 "
        f"multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={omem} tot-mem={qbuf + omem} events=r "
        f"cmd={c.last_cmd} user={c.user} redir={getattr(c, 'tracking_redirect', -1)} "
        f"resp={3 if c.resp3 else 2} lib-name={c.lib_name.decode('utf-8', 'replace')} "
        f"lib-ver={c.lib_ver.decode('utf-8', 'replace')}"
    )


@command("client|id")
def client_id(ctx: Client) -> int:
    return ctx.id


@command("client|setname")
def client_setname(ctx: Client, name: bytes) -> object:
    _check_name(name)
    ctx.name = name
    return OK


@command("client|getname")
def client_getname(ctx: Client) -> object:
    return ctx.name or None


@command(
    "client|setinfo",
    arity=4,
    flags=("noscript", "loading", "stale"),
    categories=("@slow", "@connection"),
    summary="Set client or connection specific info",
    since="7.2.0",
    group="connection",
)
def client_setinfo(ctx: Client, attr: bytes, value: bytes) -> object:
    kind = attr.lower()
    if kind not in (b"lib-name", b"lib-ver"):
        raise CommandError(f"ERR Unrecognized option '{attr.decode('utf-8', 'replace')}'")
    if any(c < 33 or c > 126 for c in value):
        raise CommandError(f"ERR {kind.decode()} cannot contain spaces, newlines or special characters.")
    if kind == b"lib-name":
        ctx.lib_name = value
    else:
        ctx.lib_ver = value
    return OK


@command("client|info")
def client_info(ctx: Client) -> object:
    return Verbatim(client_info_line(ctx).encode() + b"\n")


@command("client|list")
def client_list(ctx: Client, *args: bytes) -> object:
    clients = list(ctx.server.clients.values())
    i = 0
    while i < len(args):
        opt = args[i].lower()
        if opt == b"type" and i + 1 < len(args):
            kind = args[i + 1].lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise err(f"Unknown client type '{args[i + 1].decode('utf-8', 'replace')}'")
            if kind == b"pubsub":
                clients = [c for c in clients if c.channels or c.patterns or c.shard_channels]
            elif kind == b"normal":
                clients = [c for c in clients if not (c.channels or c.patterns or c.shard_channels)]
            else:
                clients = []
            i += 2
        elif opt == b"id" and i + 1 < len(args):
            ids = set()
            for raw in args[i + 1 :]:
                try:
                    value = to_int(raw)
                except CommandError:
                    raise err("Invalid client ID") from None
                if value <= 0:
                    raise err("Invalid client ID")
                ids.add(value)
            clients = [c for c in clients if c.id in ids]
            i = len(args)
        else:
            raise CommandError(errors.SYNTAX)
    clients.sort(key=lambda c: c.id)
    return Verbatim("".join(client_info_line(c) + "\n" for c in clients).encode())


@command("client|kill")
def client_kill(ctx: Client, *args: bytes) -> object:
    clients = ctx.server.clients.values()
    if len(args) == 1:  # old form: CLIENT KILL addr:port
        victims = [c for c in clients if c.addr.encode() == args[0]]
        if not victims:
            raise CommandError(errors.NO_SUCH_CLIENT)
        _kill(ctx, victims)
        return OK
    if len(args) % 2:
        raise CommandError(errors.SYNTAX)
    filters = []
    skipme = True
    for i in range(0, len(args), 2):
        opt, value = args[i].lower(), args[i + 1]
        if opt == b"id":
            try:
                wanted = to_int(value)
            except CommandError:
                raise err("client-id should be greater than 0") from None
            if wanted <= 0:
                raise err("client-id should be greater than 0")
            filters.append(lambda c, w=wanted: c.id == w)
        elif opt == b"addr":
            filters.append(lambda c, v=value: c.addr.encode() == v)
        elif opt == b"laddr":
            filters.append(lambda c, v=value: c.laddr.encode() == v)
        elif opt == b"user":
            acl = getattr(ctx.server, "acl", None)
            if acl is not None:
                user = acl.users.get(value)
                if user is None:
                    raise err(f"No such user '{value.decode('utf-8', 'replace')}'")
                filters.append(lambda c, u=user, a=acl: a.user_of(c) is u)
            else:
                filters.append(lambda c, v=value: c.user.encode() == v)
        elif opt == b"type":
            kind = value.lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise err(f"Unknown client type '{value.decode('utf-8', 'replace')}'")
            if kind == b"pubsub":
                filters.append(lambda c: bool(c.channels or c.patterns or c.shard_channels))
            elif kind == b"normal":
                filters.append(lambda c: not (c.channels or c.patterns or c.shard_channels))
            else:
                filters.append(lambda c: False)
        elif opt == b"skipme":
            if value.lower() not in (b"yes", b"no"):
                raise CommandError(errors.SYNTAX)
            skipme = value.lower() == b"yes"
        elif opt == b"maxage":
            limit = to_int(value)
            filters.append(lambda c, m=limit: time.time() - c.created > m)
        else:
            raise CommandError(errors.SYNTAX)
    victims = [c for c in clients if all(f(c) for f in filters) and not (skipme and c is ctx)]
    _kill(ctx, victims)
    return len(victims)


def _kill(ctx: Client, victims: list[Client]) -> None:
    for c in victims:
        c.kill(ctx)


@command("client|reply")
def client_reply(ctx: Client, mode: bytes) -> object:
    low = mode.lower()
    if low not in (b"on", b"off", b"skip"):
        raise CommandError(errors.SYNTAX)
    if low == b"on":
        ctx.reply_mode = b"on"
        ctx.refresh_plain()
        return OK
    # OFF and SKIP take effect with this command, whose own reply is suppressed too; SKIP then
    # also drops the next command's reply (dispatch resets it to on).
    ctx.reply_mode = low
    ctx.plain = False
    return NO_REPLY


@command("client|no-evict")
def client_no_evict(ctx: Client, flag: bytes) -> object:
    low = flag.lower()
    if low not in (b"on", b"off"):
        raise CommandError(errors.SYNTAX)
    ctx.no_evict = low == b"on"
    return OK


@command("client|no-touch", arity=3, flags=("noscript", "loading", "stale"), categories=("@slow", "@connection"), summary="Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.", since="7.2.0", group="connection")
def client_no_touch(ctx: Client, flag: bytes) -> object:
    low = flag.lower()
    if low not in (b"on", b"off"):
        raise CommandError(errors.SYNTAX)
    ctx.no_touch = low == b"on"
    ctx.refresh_plain()
    return OK


@command("client|unblock")
def client_unblock(ctx: Client, raw_id: bytes, *how: bytes) -> object:
    target_id = to_int(raw_id)
    mode = how[0].lower() if how else b"timeout"
    if len(how) > 1 or mode not in (b"timeout", b"error"):
        raise err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    target = ctx.server.clients.get(target_id)
    if target is None or target.blocked is None:
        return 0
    if mode == b"error":
        ctx.server.unblock(target, None, error="UNBLOCKED client unblocked via CLIENT UNBLOCK")
    else:
        ctx.server.unblock(target, target.blocked.timeout_reply)
    return 1


@command("client|help")
def client_help(ctx: Client) -> object:
    lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>", "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
        "    * USER <username>", "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
        "    * ID <client-id>", "      Kill connections by client id.",
        "    * MAXAGE <maxage>", "      Kill connections older than the specified age.",
        "LIST [options ...]", "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
        "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
        "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)", "    Will not touch LRU/LFU stats when this mode is on.",
        "HELP", "    Print this help.",
    ]
    return [Simple(line.encode()) for line in lines]


__all__ = ["Push", "Raw"]
