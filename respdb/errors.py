"""Every error text respdb sends, verbatim from Redis 7.0 (clients pick exception classes from them).

Handlers raise CommandError (or a subclass); the connection sends `-<text>` and carries on.
"""

from __future__ import annotations


class CommandError(Exception):
    """A reply error. `text` is the full line after '-', prefix included (`ERR ...`, `WRONGTYPE ...`)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class StartupError(Exception):
    """The server cannot start (unreadable data file, bad config): the CLI prints it and exits 1."""


def err(message: str) -> CommandError:
    """An `ERR` error: `raise err("syntax error")`."""
    return CommandError("ERR " + message)


# Dispatch
UNKNOWN_COMMAND = "ERR unknown command '{name}', with args beginning with: {args}"
WRONG_ARGS = "ERR wrong number of arguments for '{name}' command"
UNKNOWN_SUBCOMMAND = "ERR unknown subcommand '{sub}'. Try {cmd} HELP."
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
AUTH_NOT_CONFIGURED = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
NOPROTO = "NOPROTO unsupported protocol version"

# Values and arguments
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
INCR_NAN = "ERR increment would produce NaN or Infinity"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NO_SUCH_KEY = "ERR no such key"
INVALID_EXPIRE = "ERR invalid expire time in '{name}' command"
DB_INDEX = "ERR DB index is out of range"
DB_INDEX_INVALID = "ERR invalid DB index"
SAME_DB = "ERR source and destination objects are the same"
NOT_POSITIVE = "ERR value is out of range, must be positive"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
TIMEOUT_INVALID = "ERR timeout is not a float or out of range"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
OFFSET_RANGE = "ERR offset is out of range"
BIT_OFFSET = "ERR bit offset is not an integer or out of range"
BIT_VALUE = "ERR bit is not an integer or out of range"
NX_XX = "ERR XX and NX options at the same time are not compatible"
GT_LT_NX = "ERR GT, LT, and/or NX options at the same time are not compatible"
ZADD_INCR_PAIR = "ERR INCR option supports a single increment-element pair"
MIN_MAX_FLOAT = "ERR min or max is not a float"
MIN_MAX_LEX = "ERR min or max not valid string range item"
HASH_NOT_INT = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
INDEX_RANGE = "ERR index out of range"
NUMKEYS_POSITIVE = "ERR numkeys should be greater than 0"
SCORE_NAN = "ERR resulting score is not a number (NaN)"
INVALID_CURSOR = "ERR invalid cursor"

# Connection, server, transactions, scripting
NOT_IN_SUBSCRIBE = (
    "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
    "are allowed in this context"
)
MULTI_NESTED = "ERR MULTI calls can not be nested"
EXEC_WITHOUT_MULTI = "ERR EXEC without MULTI"
DISCARD_WITHOUT_MULTI = "ERR DISCARD without MULTI"
WATCH_IN_MULTI = "ERR WATCH inside MULTI is not allowed"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
OOM = "OOM command not allowed when used memory > 'maxmemory'."
MAX_CLIENTS = "ERR max number of clients reached"
NO_SUCH_CLIENT = "ERR No such client"
CONFIG_UNKNOWN_PARAM = "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"

# Sorted sets and geo
COUNT_POSITIVE = "ERR count should be greater than 0"
WEIGHT_NOT_FLOAT = "ERR weight value is not a float"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"
ZSET_NUMKEYS = "ERR at least 1 input key is needed for '{name}' command"

# Transactions and pub/sub
NOT_IN_MULTI = "ERR Command not allowed inside a transaction"

# Persistence (SAVE/BGSAVE/BGREWRITEAOF, DUMP/RESTORE)
MISCONF_BGSAVE = (
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. "
    "Commands that may modify the data set are disabled, because this instance is configured to report "
    "errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the "
    "Redis logs for details about the RDB error."
)
BGSAVE_IN_PROGRESS = "ERR Background save already in progress"
BGSAVE_CHILD_ACTIVE = (
    "ERR Another child process is active (AOF?): can't BGSAVE right now. "
    "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
)
AOF_REWRITE_IN_PROGRESS = "ERR Background append only file rewriting already in progress"
AOF_REWRITE_FAILED = "ERR Can't execute an AOF background rewriting. Please check the server logs for more information."
DUMP_PAYLOAD = "ERR DUMP payload version or checksum are wrong"
BAD_DATA_FORMAT = "ERR Bad data format"
BUSYKEY = "BUSYKEY Target key name already exists."
INVALID_TTL = "ERR Invalid TTL value, must be >= 0"
INVALID_IDLETIME = "ERR Invalid IDLETIME value, must be >= 0"
INVALID_FREQ = "ERR Invalid FREQ value, must be >= 0 and <= 255"

# Lists and bitmaps
LPOS_RANK_ZERO = (
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)
LPOS_COUNT_NEGATIVE = "ERR COUNT can't be negative"
LPOS_MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative"
COUNT_POSITIVE = "ERR count should be greater than 0"
BIT_ARG = "ERR The bit argument must be 1 or 0."
BITOP_NOT_ONE_KEY = "ERR BITOP NOT must be called with a single source key."
BITFIELD_TYPE = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
BITFIELD_OVERFLOW = "ERR Invalid OVERFLOW type specified"
BITFIELD_RO_GET_ONLY = "ERR BITFIELD_RO only supports the GET subcommand"

# Streams and HyperLogLog
STREAM_INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
XADD_ID_TOO_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
XREADGROUP_NOGROUP = "NOGROUP No such key '{key}' or consumer group '{group}' in XREADGROUP with GROUP option"
NOGROUP_KEY = "NOGROUP No such consumer group '{group}' for key name '{key}'"
NOGROUP_OR_KEY = "NOGROUP No such key '{key}' or consumer group '{group}'"
SUBCOMMAND_SYNTAX = "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP."
XGROUP_NO_KEY = (
    "ERR The XGROUP subcommand requires the key to exist. "
    "Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
)
HLL_WRONGTYPE = "WRONGTYPE Key is not a valid HyperLogLog string value."
HLL_INVALID = "INVALIDOBJ Corrupted HLL object detected"

# Scripting and functions (EVAL/FCALL)
BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
NUMKEYS_GREATER = "ERR Number of keys can't be greater than number of args"
NUMKEYS_NEGATIVE = "ERR Number of keys can't be negative"

# Memory: OBJECT IDLETIME/FREQ under the other kind of maxmemory policy
_POLICY_SWITCH_NOTE = (
    "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
)
IDLETIME_UNDER_LFU = "ERR An LFU maxmemory policy is selected, idle time not tracked. " + _POLICY_SWITCH_NOTE
FREQ_WITHOUT_LFU = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. " + _POLICY_SWITCH_NOTE
