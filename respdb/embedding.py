"""A real respdb server inside the calling Python process, on a thread with its own event loop.

    with respdb.embedded() as srv:          # free loopback port
        r = srv.client()                     # redis-py client, already connected
        r.set("k", "v")

    srv = respdb.embedded(unixsocket="/tmp/app.sock", requirepass="s3cret").start()
    ...
    srv.stop()

Works from sync code, from asyncio code (the server's loop is its own, on its own thread), and under
gevent monkey-patching: the server thread is a real OS thread and the loop is uvloop's, which does
its own I/O, so a patched `socket`/`threading` cannot turn it into a greenlet that blocks the hub.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from respdb.commands import load_all
from respdb.config import Config


def _real_thread_primitives() -> tuple[Any, Any]:
    """start_new_thread and allocate_lock that create OS threads even under gevent patching."""
    if "gevent" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("threading") or monkey.is_module_patched("_thread"):
            return monkey.get_original("_thread", "start_new_thread"), monkey.get_original("_thread", "allocate_lock")
    import _thread

    return _thread.start_new_thread, _thread.allocate_lock


class EmbeddedServer:
    """A respdb server on a background thread. Start/stop it, or use it as a context manager."""

    def __init__(self, **config: Any) -> None:
        load_all()
        config.setdefault("port", 0)
        config.setdefault("loglevel", "warning")
        config.setdefault("logfile", os.devnull)  # a library should not chat on stdout
        config.setdefault("save", "") if "save" in _param_names() else None
        self.config = Config(**config)
        if not self.config.unixsocket:
            self.config.bind = ["127.0.0.1"]
        self.server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: Any = None
        self._error: BaseException | None = None

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> EmbeddedServer:
        if self.server is not None:
            raise RuntimeError("embedded respdb server already started")
        from respdb.server.app import Server

        start_thread, allocate_lock = _real_thread_primitives()
        ready = allocate_lock()
        ready.acquire()
        self._done = allocate_lock()
        self._done.acquire()
        self.server = Server(self.config)
        self.server.handle_signals = False
        start_thread(self._run, (ready,))
        ready.acquire()  # released by the thread once listening (or failed)
        if self._error is not None:
            error, self._error, self.server = self._error, None, None
            raise error
        return self

    def _run(self, ready: Any) -> None:
        try:
            import uvloop

            loop = uvloop.new_event_loop()
        except ImportError:
            loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:
                self._error = exc
                return
            finally:
                ready.release()
            loop.run_until_complete(self.server.wait_stopped())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._done.release()

    def stop(self) -> None:
        """Shut the server down and wait for its thread: the port and every client socket are freed."""
        if self.server is None or self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self.server.request_shutdown)
        except RuntimeError:
            pass  # loop already closed
        self._done.acquire()
        self.server = None
        self._loop = None

    def __enter__(self) -> EmbeddedServer:
        return self.start() if self.server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what a client needs -------------------------------------------------------------------
    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self.server.port if self.server is not None and self.config.port is not None else 0

    @property
    def unixsocket(self) -> str | None:
        return self.config.unixsocket or None

    @property
    def url(self) -> str:
        auth = f":{self.config.requirepass}@" if self.config.requirepass else ""
        if self.config.unixsocket and not self.server.port:
            return f"unix://{auth}{self.config.unixsocket}"
        return f"redis://{auth}{self.host}:{self.port}/0"

    def client(self, **kwargs: Any) -> Any:
        """A redis-py client connected to this server (redis-py must be installed)."""
        import redis

        if self.config.requirepass:
            kwargs.setdefault("password", self.config.requirepass)
        if self.config.unixsocket and not self.server.port:
            return redis.Redis(unix_socket_path=self.config.unixsocket, **kwargs)
        return redis.Redis(host=self.host, port=self.port, **kwargs)


def _param_names() -> set[str]:
    from respdb.config import PARAMS

    return set(PARAMS)


def embedded(**config: Any) -> EmbeddedServer:
    """An embedded server (not yet started): use `with embedded(...) as srv:` or `.start()`."""
    return EmbeddedServer(**config)
