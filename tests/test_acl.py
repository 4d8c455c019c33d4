"""ACL flows over TCP: users and passwords with redis-py (RESP2 and RESP3) and redis-cli, NOPERM for
commands, keys and channels, selectors, scripts, the ACL log, the aclfile, requirepass, and the
connections ACL changes close. Tests that change the default user or global settings run on their
own server; the rest use unique user names on the shared one and delete them."""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from tests.servers import REDIS_CLI, Raw, ServerProcess, resp, respdb_server

_N = itertools.count()
NOPERM_CMD = "this user has no permissions to run the '{}' command"
NOPERM_KEY = "this user has no permissions to access one of the keys used as arguments"
NOPERM_CHANNEL = "this user has no permissions to access one of the channels used as arguments"


@pytest.fixture
def users(server: ServerProcess) -> Iterator[list[str]]:
    """Names created by the test; deleted afterwards (ACL state is server-wide)."""
    names: list[str] = []
    yield names
    if names:
        server.client().acl_deluser(*names)


def _user(server: ServerProcess, users: list[str], *rules: str) -> str:
    name = f"acltest{next(_N)}"
    users.append(name)
    assert server.client().execute_command("ACL", "SETUSER", name, *rules) == b"OK"
    return name


def _wait_closed(conn: Raw, deadline_s: float = 5.0) -> bool:
    conn.sock.settimeout(deadline_s)
    try:
        return conn.sock.recv(1) == b""
    except OSError:
        return True


def test_acl_auth_user_pass_resp2_and_resp3(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", ">s3cret", "~*", "&*", "+@all")
    for protocol in (2, 3):
        c = server.client(protocol=protocol, username=name, password="s3cret")
        whoami = c.acl_whoami()  # redis-py decodes it only in RESP3
        assert (whoami.decode() if isinstance(whoami, bytes) else whoami) == name
        assert c.set("k", "v") is True
        c.close()
    with pytest.raises(redis.AuthenticationError, match=r"^invalid username-password pair or user is disabled\.$"):
        server.client(username=name, password="nope").ping()


def test_acl_auth_disabled_user_and_unknown_user(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "off", ">pw", "+@all")
    raw = Raw(server.port)
    assert raw.request(resp("AUTH", name, "pw")) == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert raw.request(resp("AUTH", "no-such-user-x", "pw")).startswith(b"-WRONGPASS")
    server.client().execute_command("ACL", "SETUSER", name, "on")
    assert raw.request(resp("AUTH", name, "pw")) == b"+OK\r\n"
    assert raw.request(resp("ACL", "WHOAMI")) == b"$%d\r\n%s\r\n" % (len(name), name.encode())
    raw.close()


def test_acl_hello_auth(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", ">pw", "+@all", "~*")
    raw = Raw(server.port)
    reply = raw.request(resp("HELLO", "3", "AUTH", name, "pw"))
    assert reply.startswith(b"%7\r\n")
    assert raw.request(resp("ACL", "WHOAMI")) == b"$%d\r\n%s\r\n" % (len(name), name.encode())
    assert raw.request(resp("HELLO", "2", "AUTH", name, "bad")).startswith(b"-WRONGPASS")
    raw.close()


def test_acl_noperm_command_key_channel_texts(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", ">pw", "~app:*", "&news.*", "+@read", "+@pubsub", "-flushall", "+config|get")
    c = server.client(username=name, password="pw")
    assert c.get("app:1") is None
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_KEY):
        c.get("other")
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_CMD.format("set")):
        c.set("app:1", "v")
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_CMD.format("config\\|set")):
        c.config_set("timeout", "0")
    assert c.config_get("timeout") == {"timeout": "0"}
    assert c.publish("news.today", "m") == 0
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_CHANNEL):
        c.publish("sports", "m")
    raw = Raw(server.port)
    raw.request(resp("AUTH", name, "pw"))
    assert raw.request(resp("SUBSCRIBE", "news.a", "sports")) == b"-NOPERM " + NOPERM_CHANNEL.encode() + b"\r\n"
    assert raw.request(resp("PSUBSCRIBE", "news.*")).startswith(b"*3\r\n$10\r\npsubscribe")
    raw.close()


def test_acl_read_write_key_patterns(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", "nopass", "%R~src:*", "%W~dst:*", "+@all")
    admin = server.client()
    admin.rpush("src:1", "a", "b")
    c = server.client(username=name, password="x")
    assert c.lrange("src:1", 0, -1) == [b"a", b"b"]
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.rpush("src:1", "c")
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.lmove("src:1", "dst:1", "LEFT", "LEFT")  # LMOVE also writes its source
    assert c.copy("src:1", "dst:1") is True  # COPY reads the source, writes the destination
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.copy("dst:1", "src:2")
    assert c.set("dst:2", "v") is True  # SET without GET only writes the key
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.set("dst:2", "v", get=True)
    admin.delete("src:1", "dst:1", "dst:2")


def test_acl_selectors_and_first_args(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", "nopass", "~a*", "+set", "(~b* +get)", "+select|0")
    c = server.client(username=name, password="x")
    assert c.set("a1", "1") is True
    assert c.get("b1") is None
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_KEY):
        c.get("a1")  # GET only through the selector, whose keys are b*
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_CMD.format("del")):
        c.delete("a1")
    assert c.execute_command("SELECT", "0") is True
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_CMD.format("select")):
        c.execute_command("SELECT", "1")
    assert "Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the " \
        "future (offender: +select|0)" in server.log_text()
    server.client().delete("a1")


def test_acl_redis_cli_user_pass(server: ServerProcess, users: list[str]) -> None:
    if REDIS_CLI is None:
        pytest.skip("redis-cli not installed")
    name = _user(server, users, "on", ">clipw", "~cli:*", "+@all")

    def cli(*args: str) -> str:
        out = subprocess.run([REDIS_CLI, "-p", str(server.port), "--no-auth-warning", "--user", name, "--pass", "clipw", *args],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip()

    assert cli("ACL", "WHOAMI") == name
    assert cli("SET", "cli:1", "v") == "OK"
    assert cli("GET", "other") == "NOPERM " + NOPERM_KEY
    server.client().delete("cli:1")


def test_acl_multi_refusal_aborts_exec(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", "nopass", "~*", "+multi", "+exec", "+get")
    raw = Raw(server.port)
    raw.request(resp("AUTH", name, "x"))
    assert raw.request(resp("MULTI")) == b"+OK\r\n"
    assert raw.request(resp("GET", "k")) == b"+QUEUED\r\n"
    assert raw.request(resp("SET", "k", "v")) == b"-NOPERM " + NOPERM_CMD.format("set").encode() + b"\r\n"
    assert raw.request(resp("EXEC")) == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    raw.close()
    entry = _log_entries(server.client(), 1)[0]
    assert (entry["reason"], entry["context"], entry["object"], entry["username"]) == ("command", "multi", "set", name)


def test_acl_scripts_run_with_caller_permissions(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", "nopass", "~k*", "+eval", "+get", "+publish", "&c")
    c = server.client(username=name, password="x")
    with pytest.raises(redis.ResponseError, match="The user executing the script can't run this command or subcommand script:"):
        c.eval("return redis.call('set','k1','v')", 0)
    with pytest.raises(redis.ResponseError, match="can't access at least one of the keys mentioned in the command arguments script:"):
        c.eval("return redis.call('get','x')", 0)
    with pytest.raises(redis.ResponseError, match="can't publish to the channel mentioned in the command script:"):
        c.eval("return redis.call('publish','d','m')", 0)
    assert c.eval("return redis.pcall('get','k1')", 0) is None
    assert c.eval("return redis.acl_check_cmd('get','k1')", 0) == 1
    assert c.eval("return redis.acl_check_cmd('get','x')", 0) is None
    entry = _log_entries(server.client(), 1)[0]
    assert (entry["context"], entry["reason"]) == ("lua", "channel")
    assert " cmd=eval " in entry["client-info"] and f" user={name} " in entry["client-info"]


def _log_entries(c: redis.Redis, count: int) -> list[dict[str, object]]:
    import hiredis

    raw = Raw(c.connection_pool.connection_kwargs["port"])
    reader = hiredis.Reader()
    reader.feed(raw.request(resp("ACL", "LOG", str(count))))
    raw.close()
    rows = reader.gets()
    out = []
    for row in rows:
        d = dict(zip(row[::2], row[1::2], strict=True))
        out.append({k.decode(): (v.decode() if isinstance(v, bytes) else v) for k, v in d.items()})
    return out


def test_acl_log_entries_grouping_count_and_reset(server: ServerProcess, users: list[str]) -> None:
    admin = server.client()
    admin.execute_command("ACL", "LOG", "RESET")
    name = _user(server, users, "on", ">pw", "~k*", "+get")
    # A raw connection: redis-py would send CLIENT SETINFO on connect, and that refusal is logged too.
    c = Raw(server.port)
    assert c.request(resp("AUTH", name, "pw")) == b"+OK\r\n"
    for _ in range(3):
        assert c.request(resp("GET", "secret")).startswith(b"-NOPERM")
    c.close()
    raw = Raw(server.port)  # one attempt (redis-py would retry the connection)
    assert raw.request(resp("AUTH", name, "bad")).startswith(b"-WRONGPASS")
    raw.close()
    entries = _log_entries(admin, 10)
    assert len(entries) == 2
    auth, key = entries
    assert (auth["reason"], auth["context"], auth["object"], auth["username"], auth["count"]) == ("auth", "toplevel", "AUTH", name, 1)
    assert (key["reason"], key["object"], key["username"], key["count"]) == ("key", "secret", name, 3)
    assert key["client-info"].startswith("id=") and " cmd=get " in key["client-info"]
    assert float(key["age-seconds"]) < 60
    assert len(_log_entries(admin, 1)) == 1
    assert admin.execute_command("ACL", "LOG", "RESET") == b"OK"
    assert _log_entries(admin, 10) == []


def test_acl_deluser_closes_its_connections(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", ">pw", "+@all", "~*")
    raw = Raw(server.port)
    assert raw.request(resp("AUTH", name, "pw")) == b"+OK\r\n"
    other = Raw(server.port)
    assert server.client().acl_deluser(name) == 1
    users.remove(name)
    assert _wait_closed(raw)
    assert other.request(resp("PING")) == b"+PONG\r\n"  # a default-user connection stays
    raw.close()
    other.close()


def test_acl_setuser_revoking_channels_closes_subscribers(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", "nopass", "&a*", "&b*", "+@all")
    raw = Raw(server.port)
    raw.request(resp("AUTH", name, "x"))
    assert raw.request(resp("SUBSCRIBE", "a1")).startswith(b"*3\r\n")
    server.client().execute_command("ACL", "SETUSER", name, "&a*", "&c*")  # still allows a1
    assert raw.request(resp("PING")).startswith(b"*2\r\n")
    server.client().execute_command("ACL", "SETUSER", name, "resetchannels", "&b*")
    assert _wait_closed(raw)
    raw.close()


def test_acl_passwords_never_shown_in_plain(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", ">Plain-Text-Pw", "+@all")
    c = server.client(username=name, password="Plain-Text-Pw")
    admin = server.client()
    seen = " ".join(
        [str(admin.acl_list()), str(admin.execute_command("ACL", "GETUSER", name)), admin.execute_command("CLIENT", "LIST").decode(),
         str(admin.info("all")), str(admin.slowlog_get(128))]
    )
    assert "Plain-Text-Pw" not in seen
    c.close()


# --- servers of their own: the default user, requirepass, aclfile ----------------------------------
def test_acl_requirepass_sets_default_user_password() -> None:
    with respdb_server("--requirepass", "firstpw", password="firstpw") as sp:
        with pytest.raises(redis.AuthenticationError):
            sp.client().ping()
        c = sp.client(password="firstpw")
        assert c.execute_command("ACL", "WHOAMI") == b"default"
        assert "nopass" not in c.acl_getuser("default")["flags"]
        c.config_set("requirepass", "secondpw")
        with pytest.raises(redis.AuthenticationError):
            sp.client(password="firstpw").ping()
        assert sp.client(password="secondpw").ping() is True
        c2 = sp.client(password="secondpw")
        c2.config_set("requirepass", "")
        assert sp.client().ping() is True
        raw = Raw(sp.port)
        assert raw.request(resp("AUTH", "anything")) == (
            b"-ERR AUTH <password> called without any password configured for the default user. "
            b"Are you sure your configuration is correct?\r\n"
        )
        assert raw.request(resp("AUTH", "default", "anything")) == b"+OK\r\n"  # nopass: any password
        raw.close()


def test_acl_restricted_default_user_applies_to_connected_and_new_clients() -> None:
    with respdb_server() as sp:
        before = Raw(sp.port)
        assert before.request(resp("SET", "k", "v")) == b"+OK\r\n"
        admin = sp.client()
        admin.execute_command("ACL", "SETUSER", "admin", "on", ">adminpw", "+@all", "~*", "&*")
        admin.execute_command("ACL", "SETUSER", "default", "-set")
        assert before.request(resp("SET", "k", "v")) == b"-NOPERM " + NOPERM_CMD.format("set").encode() + b"\r\n"
        after = Raw(sp.port)
        assert after.request(resp("SET", "k", "v")).startswith(b"-NOPERM")
        assert after.request(resp("RESET")) == b"+RESET\r\n"
        assert after.request(resp("SET", "k", "v")).startswith(b"-NOPERM")
        assert after.request(resp("AUTH", "admin", "adminpw")) == b"+OK\r\n"
        assert after.request(resp("SET", "k", "v")) == b"+OK\r\n"
        admin.execute_command("ACL", "SETUSER", "default", "off")
        fresh = Raw(sp.port)
        assert fresh.request(resp("GET", "k")) == b"-NOAUTH Authentication required.\r\n"
        for conn in (before, after, fresh):
            conn.close()


def test_acl_aclfile_save_load_round_trip() -> None:
    with respdb_server() as probe:
        path = probe.dir / "users.acl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("user default on nopass ~* &* +@all\nuser app on #" + "a" * 64 + " ~app:* resetchannels -@all +get\n")
    with respdb_server("--aclfile", str(path)) as sp:
        c = sp.client()
        assert c.acl_users() == ["app", "default"]
        c.execute_command("ACL", "SETUSER", "svc", "on", ">svc-plain-pw", "~svc:*", "&q", "+@read", "(+set ~w*)")
        assert c.execute_command("ACL", "SAVE") == b"OK"
        text = path.read_text()
        assert "svc-plain-pw" not in text
        assert "user svc on #" in text and "(~w* resetchannels -@all +set)" in text
        saved = c.acl_list()
        conn = Raw(sp.port)
        assert conn.request(resp("AUTH", "svc", "svc-plain-pw")) == b"+OK\r\n"
        c.execute_command("ACL", "SETUSER", "svc", "reset")
        assert c.execute_command("ACL", "LOAD") == b"OK"
        assert c.acl_list() == saved
        assert _wait_closed(conn)  # ACL LOAD replaces every non-default user: their clients go
        conn.close()
        path.write_text("user default on nopass ~* &* +@all\nuser bad on +nosuchcommand\nnonsense\n")
        with pytest.raises(redis.ResponseError) as exc:
            c.execute_command("ACL", "LOAD")
        assert str(exc.value) == (
            f"{path}:2: Error in applying operation '+nosuchcommand': Unknown command or category name in ACL. "
            f"{path}:3 should start with user keyword followed by "
            "the username. WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        )
        assert c.acl_list() == saved


def test_acl_aclfile_missing_at_startup_aborts(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="exited"), respdb_server("--aclfile", str(tmp_path / "missing.acl")):
        pass


def test_acl_load_save_without_aclfile(r: redis.Redis) -> None:
    for sub in ("LOAD", "SAVE"):
        with pytest.raises(redis.ResponseError, match=r"^This Redis instance is not configured to use an ACL file"):
            r.execute_command("ACL", sub)


def test_acl_pubsub_default_allchannels() -> None:
    with respdb_server("--acl-pubsub-default", "allchannels") as sp:
        c = sp.client()
        c.execute_command("ACL", "SETUSER", "p", "on", "nopass", "+@all")
        assert c.acl_list()[1] == "user p on nopass &* +@all"
        assert sp.client(username="p", password="x").publish("any", "m") == 0


def test_acl_genpass_lengths(r: redis.Redis) -> None:
    assert len(r.execute_command("ACL", "GENPASS")) == 64
    assert len(r.execute_command("ACL", "GENPASS", "5")) == 2
    a, b = r.execute_command("ACL", "GENPASS"), r.execute_command("ACL", "GENPASS")
    assert a != b and int(a, 16) >= 0


def test_acl_unrestricted_user_is_not_slowed(server: ServerProcess, users: list[str]) -> None:
    """A user with every permission takes the same path as the default user: 2000 pipelined GETs
    cost about the same (generous bound: timing on shared machines is noisy)."""
    name = _user(server, users, "on", "nopass", "+@all", "~*", "&*")

    def run(c: redis.Redis) -> float:
        start = time.perf_counter()
        p = c.pipeline(transaction=False)
        for _ in range(2000):
            p.get("k")
        p.execute()
        return time.perf_counter() - start

    default_t = min(run(server.client()) for _ in range(3))
    user_t = min(run(server.client(username=name, password="x")) for _ in range(3))
    assert user_t < default_t * 3


def test_acl_exec_rechecks_queued_commands(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", "nopass", "~*", "&*", "+@all")
    raw = Raw(server.port)
    raw.request(resp("AUTH", name, "x"))
    assert raw.request(resp("MULTI")) == b"+OK\r\n"
    assert raw.request(resp("SET", "k", "v")) == b"+QUEUED\r\n"
    assert raw.request(resp("GET", "k")) == b"+QUEUED\r\n"
    assert raw.request(resp("PING")) == b"+QUEUED\r\n"
    server.client().execute_command("ACL", "SETUSER", name, "-set", "resetkeys", "~j")
    prefix = (b"-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. "
              b"This command is no longer allowed for the following reason: ")
    assert raw.request(resp("EXEC")) == (
        b"*3\r\n" + prefix + b"no permission to execute the command or subcommand\r\n"
        + prefix + b"no permission to touch the specified keys\r\n+PONG\r\n"
    )
    raw.close()
    entry = _log_entries(server.client(), 1)[0]
    assert (entry["reason"], entry["context"], entry["object"]) == ("key", "multi", "k")


def test_acl_setuser_off_keeps_authenticated_connections(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", ">pw", "~*", "+@all")
    raw = Raw(server.port)
    assert raw.request(resp("AUTH", name, "pw")) == b"+OK\r\n"
    server.client().execute_command("ACL", "SETUSER", name, "off")
    assert raw.request(resp("PING")) == b"+PONG\r\n"  # as in Redis: only new AUTH attempts fail
    assert raw.request(resp("AUTH", name, "pw")).startswith(b"-WRONGPASS")
    raw.close()


def test_acl_client_kill_user(server: ServerProcess, users: list[str]) -> None:
    name = _user(server, users, "on", "nopass", "+@all")
    raw = Raw(server.port)
    raw.request(resp("AUTH", name, "x"))
    admin = Raw(server.port)
    assert admin.request(resp("CLIENT", "KILL", "USER", "no-such-user-x")) == b"-ERR No such user 'no-such-user-x'\r\n"
    assert admin.request(resp("CLIENT", "KILL", "USER", name)) == b":1\r\n"
    assert _wait_closed(raw)
    raw.close()
    admin.close()


def test_acl_setuser_arguments_redacted_in_slowlog() -> None:
    with respdb_server() as sp:
        c = sp.client()
        c.config_set("slowlog-log-slower-than", "0")
        c.execute_command("ACL", "SETUSER", "slowu", ">topsecret", "on")
        entry = next(e for e in c.slowlog_get(10) if e["command"].startswith(b"ACL"))
        assert entry["command"] == b"ACL SETUSER (redacted) (redacted) (redacted)"
        c.config_set("requirepass", "topsecret")
        c.execute_command("AUTH", "topsecret")
        logged = b" ".join(e["command"] for e in c.slowlog_get(10))
        assert b"topsecret" not in logged and b"CONFIG SET requirepass (redacted)" in logged


def test_acl_users_from_config_file(tmp_path) -> None:
    conf = tmp_path / "respdb.conf"
    conf.write_text("user default on nopass ~* &* +@all -flushall\nuser app on >apppw ~app:* +@read (+set ~w*)\n")
    with respdb_server(str(conf), workdir=tmp_path) as sp:
        c = sp.client()
        assert c.acl_users() == ["app", "default"]
        assert c.acl_list()[0] == "user app on #" + hashlib.sha256(b"apppw").hexdigest() + " ~app:* resetchannels -@all +@read (~w* resetchannels -@all +set)"
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.flushall()
        assert sp.client(username="app", password="apppw").get("app:1") is None


def test_acl_config_users_and_aclfile_together_refused(tmp_path) -> None:
    conf = tmp_path / "respdb.conf"
    (tmp_path / "users.acl").write_text("user default on nopass ~* &* +@all\n")
    conf.write_text(f"user app on >pw\naclfile {tmp_path / 'users.acl'}\n")
    with pytest.raises(RuntimeError, match="exited"), respdb_server(str(conf), workdir=tmp_path):
        pass
    assert "not both" in (tmp_path / "server.log").read_text()


def test_acl_protected_mode_follows_default_user_password(tmp_path) -> None:
    """Protected mode asks whether the default user needs no password, as Redis does: an aclfile
    that gives it one admits outside clients (to NOAUTH) without requirepass."""
    from tests.test_robustness import OUTSIDE, _first_reply

    if OUTSIDE is None:
        pytest.skip("no non-loopback local address")
    acl_file = tmp_path / "users.acl"
    acl_file.write_text("user default on #" + hashlib.sha256(b"pw").hexdigest() + " ~* &* +@all\n")
    with respdb_server("--bind", "127.0.0.1", OUTSIDE, "--aclfile", str(acl_file), password="pw") as sp:
        assert _first_reply(OUTSIDE, sp.port) == b"-NOAUTH Authentication required.\r\n"
        c = sp.client(password="pw")
        c.execute_command("ACL", "SETUSER", "default", "nopass")
        assert _first_reply(OUTSIDE, sp.port).startswith(b"-DENIED Redis is running in protected mode")
