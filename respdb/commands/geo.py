"""Geo commands on sorted sets: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH[STORE], GEORADIUS[BYMEMBER][_RO].

A position is stored as the zset score, a 52-bit geohash (the arithmetic is in storage/geohash.py).
This module holds what geo.c adds on top: the scan of the search cells, Redis's pqsort (so even the
order of equally distant results comes out as redis-server's), argument parsing and the replies.
"""

from __future__ import annotations

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.registry import command
from respdb.commands.zsets import get_zset, store_result, zadd_generic
from respdb.errors import CommandError, err
from respdb.protocol.types import NULL_ARRAY, Raw
from respdb.server.client import Client
from respdb.storage.geohash import (
    LAT_MAX,
    LAT_MIN,
    LON_MAX,
    LON_MIN,
    M64,
    STEP_MAX,
    Shape,
    base32,
    decode_score,
    distance,
    encode,
    search_cells,
)
from respdb.storage.zset import ZSet, parse_score

_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


def find_points(z: ZSet, shape: Shape, limit: int) -> list[tuple[float, float, bytes, float, float]]:
    """Members inside the shape as (distance m, score, member, lon, lat), in Redis's discovery order."""
    found: list[tuple[float, float, bytes, float, float]] = []
    last: tuple[int, int] | None = None
    for i, cell in enumerate(search_cells(shape)):
        if cell == (0, 0):
            continue
        # Huge radii make neighbours coincide; Redis skips a cell equal to the last one it scanned
        # (but never compares against the centre cell, index 0).
        if last is not None and last[0] and cell == last[1]:
            continue
        if found and limit and len(found) >= limit:
            break
        bits, step = cell
        lo = float((bits << (52 - step * 2)) & M64)
        hi = float(((bits + 1) << (52 - step * 2)) & M64)
        start, end = z.score_range((lo, False, hi, True))
        for score, member in z.slice(start, end):
            lon, lat = decode_score(score)
            d = shape.contains(lon, lat)
            if d is None:
                continue
            found.append((d, score, member, lon, lat))
            if limit and len(found) >= limit:
                break
        last = (i, cell)
    return found


# --- pqsort.c ------------------------------------------------------------------------------------------
def _med3(arr: list, a: int, b: int, c: int, cmp: object) -> int:
    if cmp(arr[a], arr[b]) < 0:  # type: ignore[operator]
        return b if cmp(arr[b], arr[c]) < 0 else (c if cmp(arr[a], arr[c]) < 0 else a)  # type: ignore[operator]
    return b if cmp(arr[b], arr[c]) > 0 else (a if cmp(arr[a], arr[c]) < 0 else c)  # type: ignore[operator]


def _insertion(arr: list, a: int, n: int, cmp: object) -> None:
    for pm in range(a + 1, a + n):
        pl = pm
        while pl > a and cmp(arr[pl - 1], arr[pl]) > 0:  # type: ignore[operator]
            arr[pl], arr[pl - 1] = arr[pl - 1], arr[pl]
            pl -= 1


def _vecswap(arr: list, a: int, b: int, n: int) -> None:
    for i in range(n):
        arr[a + i], arr[b + i] = arr[b + i], arr[a + i]


def pqsort(arr: list, cmp: object, lrange: int, rrange: int, a: int = 0, n: int | None = None) -> None:
    """Redis's pqsort (NetBSD qsort that only sorts what covers ranks lrange..rrange). Redis uses it
    when COUNT cuts the result, and it is not stable: equally distant points come out in its order."""
    if n is None:
        n = len(arr)
    while True:
        if n < 7:
            _insertion(arr, a, n, cmp)
            return
        pm = a + n // 2
        if n > 7:
            pl, pn = a, a + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(arr, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(arr, pm - d, pm, pm + d, cmp)
                pn = _med3(arr, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(arr, pl, pm, pn, cmp)
        arr[a], arr[pm] = arr[pm], arr[a]
        pa = pb = a + 1
        pc = pd = a + n - 1
        while True:
            while pb <= pc:
                c = cmp(arr[pb], arr[a])  # type: ignore[operator]
                if c > 0:
                    break
                if c == 0:
                    arr[pa], arr[pb] = arr[pb], arr[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                c = cmp(arr[pc], arr[a])  # type: ignore[operator]
                if c < 0:
                    break
                if c == 0:
                    arr[pc], arr[pd] = arr[pd], arr[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            arr[pb], arr[pc] = arr[pc], arr[pb]
            pb += 1
            pc -= 1
        # No switch to insertion sort when nothing moved (as redis-server 7.0.15 behaves: its order of
        # tied points only comes out with the recursion kept).
        pn = a + n
        r = min(pa - a, pb - pa)
        _vecswap(arr, a, pb - r, r)
        r = min(pd - pc, pn - pd - 1)
        _vecswap(arr, pb, pn - r, r)
        r = pb - pa
        if r > 1 and not ((lrange < a and rrange < a) or (lrange > a + r - 1 and rrange > a + r - 1)):
            pqsort(arr, cmp, lrange, rrange, a, r)
        r = pd - pc
        if r <= 1:
            return
        a, n = pn - r, r
        if (lrange < a and rrange < a) or (lrange > a + r - 1 and rrange > a + r - 1):
            return


def _asc(p: tuple, q: tuple) -> int:
    return 1 if p[0] > q[0] else (0 if p[0] == q[0] else -1)


def _desc(p: tuple, q: tuple) -> int:
    return -_asc(p, q)


# --- replies and arguments ---------------------------------------------------------------------------
def human(ctx: Client, value: float) -> object:
    """addReplyHumanLongDouble: %.17Lf without trailing zeros (bulk in RESP2, double in RESP3)."""
    text = b"%.17f" % value
    if b"." in text:
        text = text.rstrip(b"0").rstrip(b".")
    if text == b"-0":
        text = b"0"
    return Raw(b",%b\r\n" % text) if ctx.resp3 else text


def lonlat(lon_raw: bytes, lat_raw: bytes) -> tuple[float, float]:
    lon = parse_score(lon_raw)
    lat = parse_score(lat_raw)
    if lon is None or lat is None:
        raise CommandError(errors.NOT_FLOAT)
    if lon < LON_MIN or lon > LON_MAX or lat < LAT_MIN or lat > LAT_MAX:
        raise err(f"invalid longitude,latitude pair {lon:f},{lat:f}")
    return lon, lat


def unit(raw: bytes) -> float:
    factor = _UNITS.get(raw.lower())
    if factor is None:
        raise err("unsupported unit provided. please use M, KM, FT, MI")
    return factor


def member_pos(z: ZSet, member: bytes) -> tuple[float, float]:
    score = z.scores.get(member)
    if score is None:
        raise err("could not decode requested zset member")
    return decode_score(score)


def _radius(shape: Shape, raw: bytes, unit_raw: bytes) -> None:
    value = parse_score(raw)
    if value is None:
        raise err("need numeric radius")
    if value < 0:
        raise err("radius cannot be negative")
    shape.conversion = unit(unit_raw)
    shape.radius = value


# --- commands ----------------------------------------------------------------------------------------
@command("geoadd")
def geoadd(ctx: Client, key: bytes, *args: bytes) -> object:
    flags = 0
    i = 0
    while i < len(args):
        opt = args[i].lower()
        bit = {b"nx": 1, b"xx": 2, b"ch": 4}.get(opt)
        if bit is None:
            break
        flags |= bit
        i += 1
    rest = args[i:]
    if len(rest) % 3 or (flags & 3) == 3:
        raise CommandError(errors.SYNTAX)
    pairs: list[bytes] = []
    for j in range(0, len(rest), 3):
        lon, lat = lonlat(rest[j], rest[j + 1])
        pairs += [b"%d" % encode(lon, lat, STEP_MAX), rest[j + 2]]  # type: ignore[str-format]
    # GEOADD is a ZADD of geohash scores, and is logged as one (as Redis rewrites it).
    reply = zadd_generic(ctx, key, flags, tuple(pairs))
    ctx.propagate_argv = [b"zadd", key, *args[:i], *pairs]
    return reply


@command("geopos")
def geopos(ctx: Client, key: bytes, *members: bytes) -> list:
    z = get_zset(ctx.db, key)
    out: list = []
    for member in members:
        score = z.scores.get(member) if z is not None else None
        if score is None:
            out.append(NULL_ARRAY)
        else:
            lon, lat = decode_score(score)
            out.append([human(ctx, lon), human(ctx, lat)])
    return out


@command("geodist")
def geodist(ctx: Client, key: bytes, m1: bytes, m2: bytes, *args: bytes) -> bytes | None:
    if len(args) > 1:
        raise CommandError(errors.SYNTAX)
    factor = unit(args[0]) if args else 1.0
    z = get_zset(ctx.db, key)
    if z is None:
        return None
    s1, s2 = z.scores.get(m1), z.scores.get(m2)
    if s1 is None or s2 is None:
        return None
    lon1, lat1 = decode_score(s1)
    lon2, lat2 = decode_score(s2)
    return b"%.4f" % (distance(lon1, lat1, lon2, lat2) / factor)


@command("geohash")
def geohash(ctx: Client, key: bytes, *members: bytes) -> list:
    z = get_zset(ctx.db, key)
    out: list = []
    for member in members:
        score = z.scores.get(member) if z is not None else None
        if score is None:
            out.append(None)
            continue
        out.append(base32(*decode_score(score)))
    return out


COORDS, MEMBER, NOSTORE, SEARCH, SEARCHSTORE = 1, 2, 4, 8, 16


def georadius_generic(ctx: Client, argv: tuple[bytes, ...], flags: int) -> object:
    """georadiusGeneric: argv is the whole command line after the command name."""
    src_index = 1 if flags & SEARCHSTORE else 0
    store: bytes | None = argv[0] if flags & SEARCHSTORE else None
    z = get_zset(ctx.db, argv[src_index])
    shape = Shape()
    if flags & COORDS:
        base = 5
        shape.lon, shape.lat = lonlat(argv[1], argv[2])
        _radius(shape, argv[3], argv[4])
    elif flags & MEMBER:
        base = 4
        if z is not None:
            shape.lon, shape.lat = member_pos(z, argv[1])
            _radius(shape, argv[2], argv[3])
    else:
        base = 2 if flags & SEARCHSTORE else 1
    withdist = withhash = withcoord = any_ = False
    frommember = fromloc = byradius = bybox = False
    storedist = False
    sort = 0  # 0 none, 1 asc, -1 desc
    count = 0
    rest = argv[base:]
    n = len(rest)
    i = 0
    while i < n:
        arg = rest[i].lower()
        left = n - i - 1
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoord = True
        elif arg == b"any":
            any_ = True
        elif arg == b"asc":
            sort = 1
        elif arg == b"desc":
            sort = -1
        elif arg == b"count" and left >= 1:
            count = to_int(rest[i + 1])
            if count <= 0:
                raise err("COUNT must be > 0")
            i += 1
        elif arg in (b"store", b"storedist") and left >= 1 and not flags & (NOSTORE | SEARCH):
            store = rest[i + 1]
            storedist = arg == b"storedist"
            i += 1
        elif arg == b"storedist" and flags & SEARCHSTORE:
            storedist = True
        elif arg == b"frommember" and left >= 1 and flags & SEARCH and not fromloc:
            if z is not None:
                shape.lon, shape.lat = member_pos(z, rest[i + 1])
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and left >= 2 and flags & SEARCH and not frommember:
            shape.lon, shape.lat = lonlat(rest[i + 1], rest[i + 2])
            fromloc = True
            i += 2
        elif arg == b"byradius" and left >= 2 and flags & SEARCH and not bybox:
            _radius(shape, rest[i + 1], rest[i + 2])
            byradius = True
            i += 2
        elif arg == b"bybox" and left >= 3 and flags & SEARCH and not byradius:
            w, h = parse_score(rest[i + 1]), parse_score(rest[i + 2])
            if w is None:
                raise err("need numeric width")
            if h is None:
                raise err("need numeric height")
            if h < 0 or w < 0:
                raise err("height or width cannot be negative")
            shape.conversion = unit(rest[i + 3])
            shape.width, shape.height, shape.radius = w, h, None
            bybox = True
            i += 3
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if store is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if flags & SEARCHSTORE else "STORE option in GEORADIUS"
        raise err(f"{what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    name = "geosearchstore" if flags & SEARCHSTORE else "geosearch"
    if flags & SEARCH and not (frommember or fromloc):
        raise err(f"exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")
    if flags & SEARCH and not (byradius or bybox):
        raise err(f"exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if any_ and not count:
        raise err("the ANY argument requires COUNT argument")
    if z is None:
        return [] if store is None else store_result(ctx, store, None, "")
    if count and not sort and not any_:
        sort = 1
    points = find_points(z, shape, count if any_ else 0)
    returned = min(count, len(points)) if count else len(points)
    if sort and returned == len(points):
        # glibc's qsort is a merge sort: stable, like Python's.
        points.sort(key=lambda p: p[0], reverse=sort < 0)
    elif sort:
        pqsort(points, _asc if sort > 0 else _desc, 0, returned - 1)
    points = points[:returned]
    conv = shape.conversion
    if store is not None:
        result = ZSet.from_items((p[2], p[0] / conv if storedist else p[1]) for p in points)
        stored = store_result(ctx, store, result, "geosearchstore" if flags & SEARCH else "georadiusstore")
        if stored:
            # Unlike the other *STORE commands, geo counts one change per member stored (as Redis does).
            ctx.keyspace.dirty += stored - 1
        return stored
    if not (withdist or withhash or withcoord):
        return [p[2] for p in points]
    out = []
    for d, score, member, lon, lat in points:
        item: list = [member]
        if withdist:
            item.append(b"%.4f" % (d / conv))
        if withhash:
            item.append(int(score))
        if withcoord:
            item.append([human(ctx, lon), human(ctx, lat)])
        out.append(item)
    return out


@command("georadius")
def georadius(ctx: Client, *argv: bytes) -> object:
    return georadius_generic(ctx, argv, COORDS)


@command("georadius_ro")
def georadius_ro(ctx: Client, *argv: bytes) -> object:
    return georadius_generic(ctx, argv, COORDS | NOSTORE)


@command("georadiusbymember")
def georadiusbymember(ctx: Client, *argv: bytes) -> object:
    return georadius_generic(ctx, argv, MEMBER)


@command("georadiusbymember_ro")
def georadiusbymember_ro(ctx: Client, *argv: bytes) -> object:
    return georadius_generic(ctx, argv, MEMBER | NOSTORE)


@command("geosearch")
def geosearch(ctx: Client, *argv: bytes) -> object:
    return georadius_generic(ctx, argv, SEARCH)


@command("geosearchstore")
def geosearchstore(ctx: Client, *argv: bytes) -> object:
    return georadius_generic(ctx, argv, SEARCH | SEARCHSTORE)
