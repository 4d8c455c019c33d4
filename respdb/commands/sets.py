"""Set commands (Redis's t_set.c): a set is a plain Python `set` of bytes members.

Redis keeps a set of only integers (up to `set-max-intset-entries`) as a sorted intset, and that order
leaks into replies (SMEMBERS, SSCAN, SUNION/SDIFF results, whole-set SPOP/SRANDMEMBER). Python sets
have no such order, so replies that list a whole integer-only set sort it numerically the same way.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.encoding_history import record
from respdb.commands.generic import ENCODERS, parse_scan_cursor, parse_scan_options
from respdb.commands.registry import command
from respdb.config import Config, param
from respdb.errors import CommandError, err
from respdb.protocol.types import Set
from respdb.server.client import Client
from respdb.storage.glob import compile_glob
from respdb.storage.keyspace import Database, WrongType
from respdb.storage.scan import scan_page

param("set-max-intset-entries", "int", 512, hi=2**63 - 1)

_INT64 = range(-(2**63), 2**63)
_LONG_MAX = 2**63 - 1
_COUNT_RANGE = f"ERR value is out of range, value must between {-_LONG_MAX} and {_LONG_MAX}"


def parse_count(raw: bytes) -> int:
    """Redis's getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) for SRANDMEMBER/HRANDFIELD counts."""
    count = to_int(raw)
    if count < -_LONG_MAX:
        raise CommandError(_COUNT_RANGE)
    return count


# Python sets and dicts have no random access: picking a random element means walking to it, O(n)
# (~40 ns per element). Large collections keep an indexable snapshot instead, reused while no write
# happened anywhere (the keyspace's dirty counter) and the size is unchanged; each pick is also
# checked to still be a member. Repeated SRANDMEMBER/HRANDFIELD on a big static key are then O(1).
_SNAPSHOT_MIN = 1024
_snapshots: OrderedDict[int, tuple[object, int, list[bytes]]] = OrderedDict()


def elements(ctx: Client, coll: set[bytes] | dict[bytes, bytes]) -> Sequence[bytes]:
    """The members of a set (or fields of a hash) as an indexable sequence, for random picks."""
    if len(coll) <= _SNAPSHOT_MIN:
        return list(coll)
    dirty = ctx.keyspace.dirty
    entry = _snapshots.get(id(coll))
    if entry is not None and entry[0] is coll and entry[1] == dirty and len(entry[2]) == len(coll):
        _snapshots.move_to_end(id(coll))
        return entry[2]
    snapshot = list(coll)
    _snapshots[id(coll)] = (coll, dirty, snapshot)
    if len(_snapshots) > 4:  # bounded: each entry holds a large collection and its snapshot alive
        _snapshots.popitem(last=False)
    return snapshot


def picks_valid(coll: set[bytes] | dict[bytes, bytes], picks: Iterable[bytes]) -> bool:
    """False if a snapshot pick is no longer in the collection (the snapshot is then dropped)."""
    if all(p in coll for p in picks):
        return True
    _snapshots.pop(id(coll), None)
    return False


def _intset_order(config: Config, members: Iterable[bytes], size: int) -> list[bytes] | None:
    """The members in intset order (ascending integers) if Redis would hold them as an intset."""
    if size > config.set_max_intset_entries:
        return None
    pairs = []
    for m in members:
        # Redis's string2ll: the canonical decimal form of a signed 64-bit integer, nothing else.
        if not m or len(m) > 20 or not (m.isdigit() or (m[:1] == b"-" and m[1:].isdigit())):
            return None
        n = int(m)
        if n not in _INT64 or b"%d" % n != m:
            return None
        pairs.append((n, m))
    pairs.sort()
    return [m for _, m in pairs]


def ordered(config: Config, members: set[bytes]) -> list[bytes]:
    """A whole set as Redis lists it: intset order for small integer sets, any order otherwise."""
    in_order = _intset_order(config, members, len(members))
    return in_order if in_order is not None else list(members)


def _encoding(config: Config, s: set[bytes]) -> bytes:
    return b"intset" if _intset_order(config, s, len(s)) is not None else b"hashtable"


ENCODERS[set] = _encoding


def _keep_hashtable(ctx: Client, key: bytes, s: set[bytes], removed: Iterable[bytes], size: int = -1) -> None:
    """Before `removed` leave `s`: Redis never turns a hashtable set back into an intset, so if it is
    one now (too big, or one of the leaving members is not an integer) remember that for OBJECT
    ENCODING, as the remaining members alone could look like an intset. `size`: the size before the
    removal when it already happened."""
    config = ctx.server.config
    if (size if size >= 0 else len(s)) > config.set_max_intset_entries or any(_intset_order(config, (m,), 1) is None for m in removed):
        record(ctx.db, key, s, b"hashtable")


def _read_set(db: Database, key: bytes) -> set[bytes] | None:
    s = db.get(key)
    if s is not None and s.__class__ is not set:
        raise WrongType()
    return s


@command("sadd")
def sadd(ctx: Client, key: bytes, member: bytes, *more: bytes) -> int:
    # The first member is named in the signature: the usual one-member SADD builds no tuple.
    db = ctx.db
    s = db.get(key)
    if s is None:
        s = {member, *more}
        db.add(key, s)
        db.changed(key, "s", "sadd", len(s))  # one change per member added, as Redis counts them
        return len(s)
    if s.__class__ is not set:
        raise WrongType()
    before = len(s)
    s.add(member)
    if more:
        s.update(more)
    added = len(s) - before
    if added:
        db.changed(key, "s", "sadd", added)  # one change per member added, as Redis counts them
    return added


@command("srem")
def srem(ctx: Client, key: bytes, *members: bytes) -> int:
    db = ctx.db
    s = _read_set(db, key)
    if s is None:
        return 0
    before = len(s)
    _keep_hashtable(ctx, key, s, [m for m in members if m in s])
    s.difference_update(members)
    removed = before - len(s)
    if removed:
        db.changed(key, "s", "srem", removed)  # one change per member removed, as Redis counts them
        if not s:
            db.remove_if_empty(key, s)
            db.event(key, "g", "del")
    return removed


@command("smembers")
def smembers(ctx: Client, key: bytes) -> Set:
    s = _read_set(ctx.db, key)
    return Set(ordered(ctx.server.config, s)) if s else Set()


@command("sismember")
def sismember(ctx: Client, key: bytes, member: bytes) -> int:
    s = _read_set(ctx.db, key)
    return 1 if s and member in s else 0


@command("smismember")
def smismember(ctx: Client, key: bytes, *members: bytes) -> list[int]:
    s = _read_set(ctx.db, key) or ()
    return [1 if m in s else 0 for m in members]


@command("scard")
def scard(ctx: Client, key: bytes) -> int:
    s = _read_set(ctx.db, key)
    return len(s) if s else 0


@command("smove")
def smove(ctx: Client, src: bytes, dst: bytes, member: bytes) -> int:
    db = ctx.db
    source = db.get(src)
    target = db.get(dst)
    if source is None:
        return 0
    if source.__class__ is not set or (target is not None and target.__class__ is not set):
        raise WrongType()
    if source is target:
        return 1 if member in source else 0
    if member not in source:
        return 0
    _keep_hashtable(ctx, src, source, (member,))
    source.discard(member)
    db.changed(src, "s", "srem")
    if not source:
        db.remove_if_empty(src, source)
        db.event(src, "g", "del")
    if target is None:
        target = set()
        db.add(dst, target)
    # The destination counts as modified only if the member was new there (Redis 7.0.15).
    if member not in target:
        target.add(member)
        db.changed(dst, "s", "sadd")
    return 1


@command("spop")
def spop(ctx: Client, key: bytes, *args: bytes) -> object:
    if args:
        if len(args) > 1:
            raise CommandError(errors.SYNTAX)
        return _spop_count(ctx, key, args[0])
    db = ctx.db
    s = db.get(key)  # _read_set inlined: SPOP is in redis-benchmark's default set, mostly on an emptied key
    if s is None:
        return None
    if s.__class__ is not set:
        raise WrongType()
    if len(s) <= _SNAPSHOT_MIN:
        member = random.choice(tuple(s))
        _keep_hashtable(ctx, key, s, (member,))
        s.discard(member)
    else:
        # O(1): set.pop() takes the next slot of a table laid out by randomized (per-process) hashes,
        # so successive pops come out in an order no client can predict, without an O(n) walk.
        member = s.pop()
        _keep_hashtable(ctx, key, s, (member,), len(s) + 1)
    # Logged as the removal that happened, so the log replays the same random choice.
    ctx.propagate_argv = [b"SREM", key, member]
    db.changed(key, "s", "spop")
    if not s:
        db.remove_if_empty(key, s)
        db.event(key, "g", "del")
    return member


def _random_member(ctx: Client, s: set[bytes]) -> bytes:
    while True:
        member = random.choice(elements(ctx, s))
        if picks_valid(s, (member,)):
            return member


def _spop_count(ctx: Client, key: bytes, raw: bytes) -> object:
    count = to_int(raw, errors.NOT_POSITIVE)
    if count < 0:
        raise CommandError(errors.NOT_POSITIVE)
    db = ctx.db
    s = _read_set(db, key)
    if s is None or count == 0:
        return Set()
    if count >= len(s):
        reply = Set(ordered(ctx.server.config, s))
        db.delete(key)
        ctx.propagate_argv = [b"DEL", key]
        db.changed(key, "s", "spop", len(reply))  # one change per member popped, as Redis counts them
        db.event(key, "g", "del")
        return reply
    popped = random.sample(list(s), count)
    _keep_hashtable(ctx, key, s, popped)
    s.difference_update(popped)
    ctx.propagate_argv = [b"SREM", key, *popped]
    db.changed(key, "s", "spop", count)  # one change per member popped, as Redis counts them
    return Set(popped)


@command("srandmember")
def srandmember(ctx: Client, key: bytes, *args: bytes) -> object:
    if not args:
        s = _read_set(ctx.db, key)
        return None if s is None else _random_member(ctx, s)
    if len(args) > 1:
        raise CommandError(errors.SYNTAX)
    count = parse_count(args[0])
    s = _read_set(ctx.db, key)
    if not s or count == 0:
        return []
    if count >= len(s):
        return ordered(ctx.server.config, s)
    while True:
        pool = elements(ctx, s)
        picks = random.choices(pool, k=-count) if count < 0 else random.sample(pool, count)
        if picks_valid(s, picks):
            return picks


# --- algebra -------------------------------------------------------------------------------------
def _load_sets(db: Database, keys: Iterable[bytes]) -> list[set[bytes] | None]:
    """Every key's set (None when missing); WRONGTYPE if any key holds something else."""
    out = []
    for key in keys:
        s = db.get(key)
        if s is not None and s.__class__ is not set:
            raise WrongType()
        out.append(s)
    return out


def _inter(sets: list[set[bytes] | None], limit: int = 0) -> set[bytes]:
    if not sets or any(not s for s in sets):
        return set()
    ordered_sets = sorted(sets, key=len)  # type: ignore[arg-type]
    smallest, rest = ordered_sets[0], ordered_sets[1:]
    if not limit:
        return smallest.intersection(*rest)  # type: ignore[union-attr]
    out: set[bytes] = set()
    for m in smallest:  # type: ignore[union-attr]
        if all(m in other for other in rest):  # type: ignore[operator]
            out.add(m)
            if len(out) >= limit:
                break
    return out


def _union(sets: list[set[bytes] | None]) -> set[bytes]:
    return set().union(*(s for s in sets if s))


def _diff(sets: list[set[bytes] | None]) -> set[bytes]:
    first = sets[0]
    if not first:
        return set()
    return first.difference(*(s for s in sets[1:] if s))


def _store(ctx: Client, dst: bytes, result: set[bytes], event: str) -> int:
    """Replace dst with the result (TTL dropped), or delete dst when the result is empty."""
    db = ctx.db
    if result:
        if db.lookup_write(dst) is None:
            db.add(dst, result)
        else:
            db.set(dst, result)
        db.changed(dst, "s", event)
        return len(result)
    if db.delete(dst):
        db.changed(dst, "g", "del")
    return 0


@command("sinter")
def sinter(ctx: Client, *keys: bytes) -> Set:
    return Set(ordered(ctx.server.config, _inter(_load_sets(ctx.db, keys))))


@command("sunion")
def sunion(ctx: Client, *keys: bytes) -> Set:
    return Set(ordered(ctx.server.config, _union(_load_sets(ctx.db, keys))))


@command("sdiff")
def sdiff(ctx: Client, *keys: bytes) -> Set:
    return Set(ordered(ctx.server.config, _diff(_load_sets(ctx.db, keys))))


@command("sinterstore")
def sinterstore(ctx: Client, dst: bytes, *keys: bytes) -> int:
    return _store(ctx, dst, _inter(_load_sets(ctx.db, keys)), "sinterstore")


@command("sunionstore")
def sunionstore(ctx: Client, dst: bytes, *keys: bytes) -> int:
    return _store(ctx, dst, _union(_load_sets(ctx.db, keys)), "sunionstore")


@command("sdiffstore")
def sdiffstore(ctx: Client, dst: bytes, *keys: bytes) -> int:
    return _store(ctx, dst, _diff(_load_sets(ctx.db, keys)), "sdiffstore")


@command("sintercard")
def sintercard(ctx: Client, numkeys: bytes, *args: bytes) -> int:
    n = to_int(numkeys, "ERR numkeys should be greater than 0")
    if n < 1:
        raise err("numkeys should be greater than 0")
    if n > len(args):
        raise err("Number of keys can't be greater than number of args")
    limit = 0
    i = n
    while i < len(args):
        if args[i].lower() == b"limit" and i + 1 < len(args):
            limit = to_int(args[i + 1], "ERR LIMIT can't be negative")
            if limit < 0:
                raise err("LIMIT can't be negative")
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    return len(_inter(_load_sets(ctx.db, args[:n]), limit))


@command("sscan")
def sscan(ctx: Client, key: bytes, cursor: bytes, *args: bytes) -> list[object]:
    start = parse_scan_cursor(cursor)
    s = _read_set(ctx.db, key)
    if s is None:
        return [b"0", []]
    count, pattern, _, _ = parse_scan_options(args)
    in_order = _intset_order(ctx.server.config, s, len(s))
    if in_order is not None:
        # An intset is returned whole in one call, in order, as Redis does.
        nxt, page = 0, in_order
    else:
        nxt, page = scan_page(lambda: list(s), start, count)
    match = compile_glob(pattern) if pattern is not None else None
    out = [m for m in page if m in s and (match is None or match(m))]
    return [b"%d" % nxt, out]
