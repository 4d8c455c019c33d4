"""Request parser: bytes in, argv lists out (RESP multibulk and inline commands), no I/O.

Three paths, all giving exactly what Redis's processMultibulkBuffer and processInlineBuffer would:
- hiredis parses a read of whole multibulk commands (or whole ones followed by the start of the next);
- a read of plain inline commands (no quotes, no multibulk, none of the bytes where Redis's line
  splitting differs from `bytes.split`) is split by `bytes.split` in C;
- the exact Python parser takes everything else: the same limits, the same `Protocol error: ...` texts,
  inline commands mixed with multibulk ones (hiredis rejects that mix, and accepts nested, non-bulk or
  RESP3 items Redis refuses or reads as inline commands). It keeps its position inside a half-received
  command, so a large value arriving in many reads is scanned once; once it has finished the command a
  read ended in, the rest of the next read goes back to the fast paths (long pipelines stay fast).
"""

from __future__ import annotations

import os
import re
from typing import Any

import hiredis

INLINE_MAX = 64 * 1024  # Redis PROTO_INLINE_MAX_SIZE
MBULK_BIG_ARG = 32 * 1024


# hiredis allocates a multibulk's whole array as soon as it reads the count, so `*2000000000`
# would make it reserve 16 GB. Any read that mentions a count of 100,000 or more (or merely
# contains such text inside a value) goes to the Python parser, which grows argv as args arrive.
_BIG_COUNT = re.compile(rb"\*-?\d{6}").search

# Bytes that make an inline line need the exact parser: quotes start quoted arguments, a NUL stops Redis's
# C-string line search, and \v and \f are blanks between arguments but not inside one for sdssplitargs,
# while bytes.split() treats them as separators everywhere.
_INLINE_SPECIAL = b"\"'\0\v\f"

# A line starting with a RESP3 aggregate type that hiredis returns as a list or dict (set, push,
# attribute, map).
_RESP3_AGGREGATE_LINE = re.compile(rb"\n[~>|%]").search

# hiredis's "incomplete" marker: its default, False, is also how it returns RESP3 `#f`.
_NEED_MORE = object()
_PARTIAL = object()  # _hiredis_whole: the data ends inside a command


def _speedups() -> Any:
    """respdb._speedups holds _hiredis_whole and _BIG_COUNT in C (this file stays their reference)."""
    if os.environ.get("RESPDB_NO_EXTENSIONS"):
        return None
    try:
        from respdb import _speedups as ext
    except ImportError:
        return None
    return ext


_ext = _speedups()
_hiredis_whole_c = _ext.hiredis_whole if _ext is not None else None
if _ext is not None:
    _BIG_COUNT = _ext.big_count  # the same test by memchr, without the regex engine


class ProtocolError(Exception):
    """Malformed input: the connection replies `-ERR Protocol error: ...` and is then closed.

    `commands` holds the complete commands that preceded the bad bytes: Redis runs those first.
    """

    commands: list[list[bytes]] = []


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline command as Redis's sdssplitargs does; None means unbalanced quotes."""
    # sdssplitargs reads a C string: a NUL ends the line (and would otherwise stall the scan below).
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 3 < n and line[i + 1] == 0x78 and _ishex(line[i + 2]) and _ishex(line[i + 3]):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        return None  # closing quote must be followed by a space or nothing
                    inq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        return None
                    insq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t\0":
                    break
                if c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}


def _ishex(c: int) -> bool:
    return c in b"0123456789abcdefABCDEF"


class RequestParser:
    """Turns received bytes into complete commands; raises ProtocolError with Redis's text."""

    __slots__ = ("_argv", "_buf", "_bulk_len", "_mbulk_left", "_pos", "_reader", "auth_required", "max_bulk_len")

    def __init__(self, max_bulk_len: int = 512 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._mbulk_left = 0  # arguments still expected by the half-parsed multibulk command
        self._bulk_len = -1  # length of the bulk being received, -1 when reading its `$` header
        self._argv: list[bytes] = []
        self.max_bulk_len = max_bulk_len
        # Before AUTH, Redis caps request sizes so an anonymous peer cannot make it allocate much.
        self.auth_required = False
        self._reader = hiredis.Reader(notEnoughData=_NEED_MORE)

    def pending(self) -> int:
        """Bytes received but not yet part of a complete command (the query buffer)."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> list[list[bytes]]:
        """The complete commands received so far. While `auth_required`, at most one: Redis parses an
        unauthenticated client's commands one at a time and runs each before reading the next, so an
        AUTH early in a pipeline lifts the size limits for the commands behind it — the caller runs
        the command and calls `feed(b"")` for the next one."""
        if self.auth_required:
            self._buf += data
            return self._parse(once=True)
        # An empty buffer can still be in the middle of a multibulk whose header (and some arguments)
        # were consumed by an earlier read: only a command boundary may take a fast path.
        if self._buf or self._mbulk_left:
            return self._finish_command(data)
        if data[:1] == b"*":
            if not self.auth_required and not _BIG_COUNT(data):
                cmds = self._feed_hiredis(data)
                if cmds is not None:
                    return cmds
        elif len(data.translate(None, _INLINE_SPECIAL)) == len(data) and b"\n*" not in data:
            return self._feed_inline(data)
        self._buf += data
        return self._parse()

    def feed_exact(self, data: bytes) -> list[list[bytes]]:
        """`feed` through the exact parser only: the reference the fast paths are tested against."""
        self._buf += data
        return self._parse()

    def _finish_command(self, data: bytes) -> list[list[bytes]]:
        """The buffer holds the start of a command (a pipeline longer than a read rarely ends at a
        command boundary): finish that one command exactly, then give the rest of the read to the
        fast paths instead of parsing all of it in Python."""
        self._buf += data
        cmds = self._parse(once=True)
        if not cmds or not self._buf:
            return cmds  # still inside the command (e.g. a large value arriving), or nothing left
        rest = bytes(self._buf)
        self._buf.clear()
        return self._after(cmds, rest)

    def _after(self, cmds: list[list[bytes]], rest: bytes) -> list[list[bytes]]:
        """`cmds` followed by whatever `rest` (read from a command boundary) holds; a protocol error
        in `rest` still lets `cmds` run first."""
        try:
            return cmds + self.feed(rest)
        except ProtocolError as exc:
            exc.commands = cmds + exc.commands
            raise

    def _feed_inline(self, data: bytes) -> list[list[bytes]]:
        """Plain inline lines: without quotes, NUL, \\v or \\f, Redis's sdssplitargs splits a line at runs of
        space, tab, CR and LF, which is exactly what `bytes.split()` does; lines with no arguments are
        skipped as Redis skips them. A partial last line is left to the exact parser."""
        end = data.rfind(b"\n") + 1
        if end == len(data):
            return list(filter(None, map(bytes.split, data.split(b"\n"))))
        cmds = list(filter(None, map(bytes.split, data[:end].split(b"\n")))) if end else []
        self._buf += data[end:]
        try:
            # The tail holds no newline, so no complete command; this only applies the size limits.
            return cmds + self._parse()
        except ProtocolError as exc:
            exc.commands = cmds + exc.commands
            raise

    def _feed_hiredis(self, data: bytes) -> list[list[bytes]] | None:
        """Whole multibulk commands, possibly followed by the start of one more (left in the buffer);
        None hands the read to the exact parser."""
        if data[-1] == 0x0A:  # ends with '\n': the usual read, whole commands
            cmds = self._hiredis_whole(data, len(data))
            if cmds is not _PARTIAL:
                return cmds
        # The read ends inside a command (a pipeline longer than a read): if the last line starting
        # with '*' is where the whole commands end (hiredis confirms it), they are done and the rest
        # waits in the buffer.
        cut = data.rfind(b"\n*") + 1
        if cut <= 0:
            return None
        cmds = self._hiredis_whole(data, cut)
        if cmds is None or cmds is _PARTIAL:
            return None
        self._buf += memoryview(data)[cut:]
        try:
            return cmds + self._parse()
        except ProtocolError as exc:
            exc.commands = cmds + exc.commands
            raise

    def _hiredis_whole(self, data: bytes, end: int) -> Any:
        """The commands in `data[:end]` if it holds whole commands; _PARTIAL if it ends inside one;
        None if anything is odd (the exact parser decides)."""
        if _hiredis_whole_c is not None:
            got = _hiredis_whole_c(self._reader, data, end, self.max_bulk_len, _NEED_MORE, _PARTIAL)
            if got.__class__ is not list:
                self._reader = hiredis.Reader(notEnoughData=_NEED_MORE)
            return got
        reader = self._reader
        reader.feed(data, 0, end)
        cmds = []
        max_len = self.max_bulk_len
        skipped = False
        need_more = _NEED_MORE
        try:
            cmd = reader.gets()
            while cmd is not need_more:
                if cmd:
                    for arg in cmd:  # a non-array item fails here: bytes give ints, numbers raise
                        if arg.__class__ is not bytes or len(arg) > max_len:
                            raise ValueError
                    cmds.append(cmd)
                elif cmd.__class__ is list:
                    skipped = True  # `*0` is skipped, as Redis does
                else:
                    # `$-1`, `$0`, `_`, `:0`, `#f` are inline commands to Redis (and `*-1`, also
                    # None, is rare enough to leave to the exact parser).
                    raise ValueError
                cmd = reader.gets()
        except Exception:  # anything odd is re-parsed exactly
            self._reader = hiredis.Reader(notEnoughData=_NEED_MORE)
            return None
        # hiredis also reads RESP3 sets, pushes, attributes and maps (`~`, `>`, `|`, `%`) as lists or
        # dicts, which pass for commands; Redis reads a line starting with one of them as an inline
        # command. The first item starts with '*', so only reads of several items need a look.
        if (
            (skipped or len(cmds) > 1)
            and (0x7E in data or 0x3E in data or 0x7C in data or 0x25 in data)  # int needles: memchr
            and _RESP3_AGGREGATE_LINE(data, 0, end)
        ):
            self._reader = hiredis.Reader(notEnoughData=_NEED_MORE)
            return None
        # hiredis does not say whether it stopped inside a command (has_data() is False once it has
        # consumed a lone '*'), so probe with an empty array: it comes back as [] only when the reader
        # was at a command boundary.
        try:
            reader.feed(b"*0\r\n")
            if reader.gets() == [] and not reader.has_data():
                return cmds
        except Exception:
            pass
        self._reader = hiredis.Reader(notEnoughData=_NEED_MORE)
        return _PARTIAL

    def _parse(self, once: bool = False) -> list[list[bytes]]:
        cmds: list[list[bytes]] = []
        try:
            self._parse_into(cmds, once)
        except ProtocolError as exc:
            exc.commands = cmds
            raise
        return cmds

    def _parse_into(self, cmds: list[list[bytes]], once: bool) -> None:
        """Parse complete commands into `cmds` (only the first one when `once`)."""
        buf = self._buf
        while True:
            if self._mbulk_left == 0:
                if self._pos >= len(buf):
                    break
                if buf[self._pos] == 0x2A:  # '*'
                    if not self._multibulk_header():
                        break
                    if self._mbulk_left == 0:
                        continue
                else:
                    cmd = self._inline()
                    if cmd is None:
                        break
                    if cmd:
                        cmds.append(cmd)
                        if once:
                            break
                    continue
            if not self._multibulk_args():
                break
            cmds.append(self._argv)
            self._argv = []
            if once:
                break
        # Drop consumed bytes; keep the unread tail (and any half-received bulk) only.
        if self._pos:
            del buf[: self._pos]
            self._pos = 0

    def _inline(self) -> list[bytes] | None:
        buf = self._buf
        nl = buf.find(b"\n", self._pos)
        # Redis looks for the newline with strchr, which stops at a NUL byte: a NUL before the newline
        # means no complete line yet, so the request waits until it is too big (it never runs).
        if nl < 0 or buf.find(b"\0", self._pos, nl) >= 0:
            if len(buf) - self._pos > INLINE_MAX:
                raise ProtocolError("Protocol error: too big inline request")
            return None
        end = nl - 1 if nl > self._pos and buf[nl - 1] == 13 else nl
        line = bytes(buf[self._pos : end])
        self._pos = nl + 1
        args = split_inline(line)
        if args is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request")
        return args

    def _multibulk_header(self) -> bool:
        buf = self._buf
        nl = _find_cr(buf, self._pos)
        if nl < 0:
            if len(buf) - self._pos > INLINE_MAX:
                raise ProtocolError("Protocol error: too big mbulk count string")
            return False
        if nl + 1 >= len(buf):
            return False  # the byte after the CR (Redis skips it unread) has not arrived yet
        count = _parse_int(buf, self._pos + 1, nl)
        if count is None or count > 2147483647:
            raise ProtocolError("Protocol error: invalid multibulk length")
        if count > 10 and self.auth_required:
            raise ProtocolError("Protocol error: unauthenticated multibulk length")
        self._pos = nl + 2
        self._mbulk_left = max(count, 0)
        self._bulk_len = -1
        self._argv = []
        return True

    def _multibulk_args(self) -> bool:
        buf = self._buf
        argv = self._argv
        while self._mbulk_left:
            if self._bulk_len < 0:
                pos = self._pos
                nl = _find_cr(buf, pos)
                if nl < 0:
                    if len(buf) - pos > INLINE_MAX:
                        raise ProtocolError("Protocol error: too big bulk count string")
                    return False
                if nl + 1 >= len(buf):
                    return False
                if buf[pos] != 0x24:  # '$'
                    # Redis's error replies turn CR and LF into spaces.
                    got = " " if buf[pos] in b"\r\n" else chr(buf[pos])
                    raise ProtocolError(f"Protocol error: expected '$', got '{got}'")
                size = _parse_int(buf, pos + 1, nl)
                if size is None or size < 0 or size > self.max_bulk_len:
                    raise ProtocolError("Protocol error: invalid bulk length")
                if size > 16384 and self.auth_required:
                    raise ProtocolError("Protocol error: unauthenticated bulk length")
                self._pos = nl + 2
                self._bulk_len = size
            end = self._pos + self._bulk_len
            if len(buf) < end + 2:
                return False
            argv.append(bytes(buf[self._pos : end]))
            self._pos = end + 2
            self._bulk_len = -1
            self._mbulk_left -= 1
        return True


def _find_cr(buf: bytearray, pos: int) -> int:
    """Where a multibulk or bulk count line ends, found as Redis finds it: strchr(p, '\\r'), which
    stops at a NUL byte (-1: not yet). The byte after the CR is skipped without being checked."""
    cr = buf.find(b"\r", pos)
    if cr < 0 or buf.find(b"\0", pos, cr) >= 0:
        return -1
    return cr


def _parse_int(buf: bytearray, start: int, end: int) -> int | None:
    """Redis's string2ll: optional '-', digits only, no '+', no spaces, no leading zeros, no "-0",
    within a signed 64-bit integer."""
    text = bytes(buf[start:end])
    if not text or len(text) > 20:
        return None
    negative = text[:1] == b"-"
    body = text[1:] if negative else text
    if not body.isdigit() or (body[:1] == b"0" and (len(body) > 1 or negative)):
        return None
    value = int(text)
    if not -(2**63) <= value < 2**63:
        return None
    return value
