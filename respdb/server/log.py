"""Log lines in Redis's format: `pid:M 24 Nov 2026 22:50:00.123 * message` (. - * # by level)."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

_LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3}
_MARKS = ".-*#"


class Log:
    def __init__(self, level: str = "notice", path: str = "") -> None:
        self.level = _LEVELS[level]
        self.path = path
        self._stream: TextIO = open(path, "a", buffering=1) if path else sys.stdout  # noqa: SIM115

    def close(self) -> None:
        if self._stream is not sys.stdout:
            self._stream.close()
            self._stream = sys.stdout
            self.level = 4  # nothing more after close

    def set_level(self, level: str) -> None:
        self.level = _LEVELS[level]

    def _emit(self, level: int, message: str) -> None:
        if level < self.level:
            return
        now = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
        try:
            self._stream.write(f"{os.getpid()}:M {stamp} {_MARKS[level]} {message}\n")
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def debug(self, message: str) -> None:
        self._emit(0, message)

    def verbose(self, message: str) -> None:
        self._emit(1, message)

    def notice(self, message: str) -> None:
        self._emit(2, message)

    def warning(self, message: str) -> None:
        self._emit(3, message)
