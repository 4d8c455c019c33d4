"""Geo commands on sorted sets: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH[STORE], GEORADIUS[BYMEMBER][_RO].

A position is stored as the zset score: a 52-bit geohash interleaving latitude (even bits) and
longitude (odd bits). The arithmetic follows Redis's geohash.c / geohash_helper.c step for step —
same operations, same order, same constants, same libm — so coordinates, distances, the 9-cell
search and even the order of equally distant results come out digit for digit as redis-server's.
"""

from __future__ import annotations

import math

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.registry import command
from respdb.commands.zsets import _zadd, get_zset, store_result
from respdb.errors import CommandError, err
from respdb.protocol.types import NULL_ARRAY, Raw
from respdb.server.client import Client
from respdb.storage.zset import ZSet, parse_score

STEP_MAX = 26
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
LON_MIN, LON_MAX = -180.0, 180.0
EARTH_RADIUS = 6372797.560856
MERCATOR_MAX = 20037726.37
D_R = math.pi / 180.0
M64 = (1 << 64) - 1
_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}
_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"
_sin, _cos, _asin, _sqrt = math.sin, math.cos, math.asin, math.sqrt


# --- geohash.c -------------------------------------------------------------------------------------
def interleave(lat_bits: int, lon_bits: int) -> int:
    x, y = lat_bits & 0xFFFFFFFF, lon_bits & 0xFFFFFFFF
    for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F), (2, 0x3333333333333333), (1, 0x5555555555555555)):
        x = (x | (x << shift)) & mask
        y = (y | (y << shift)) & mask
    return (x | (y << 1)) & M64


def deinterleave(bits: int) -> tuple[int, int]:
    """(lat part, lon part) of an interleaved hash."""
    x, y = bits, bits >> 1
    for shift, mask in ((0, 0x5555555555555555), (1, 0x3333333333333333), (2, 0x0F0F0F0F0F0F0F0F), (4, 0x00FF00FF00FF00FF), (8, 0x0000FFFF0000FFFF), (16, 0x00000000FFFFFFFF)):
        x = (x | (x >> shift)) & mask
        y = (y | (y >> shift)) & mask
    return x & 0xFFFFFFFF, y & 0xFFFFFFFF


def encode(lon: float, lat: float, step: int, lat_min: float = LAT_MIN, lat_max: float = LAT_MAX) -> int | None:
    """geohashEncode: the `step`-bit-per-axis hash, None outside the indexable area."""
    if lon > 180 or lon < -180 or lat > LAT_MAX or lat < LAT_MIN:
        return None
    if lat < lat_min or lat > lat_max or lon < LON_MIN or lon > LON_MAX:
        return None
    lat_offset = (lat - lat_min) / (lat_max - lat_min) * float(1 << step)
    lon_offset = (lon - LON_MIN) / (LON_MAX - LON_MIN) * float(1 << step)
    return interleave(int(lat_offset), int(lon_offset))


def decode_area(bits: int, step: int) -> tuple[float, float, float, float]:
    """geohashDecode: (lon_min, lon_max, lat_min, lat_max) of a cell."""
    ilat, ilon = deinterleave(bits)
    lat_scale = LAT_MAX - LAT_MIN
    lon_scale = LON_MAX - LON_MIN
    div = float(1 << step)
    return (
        LON_MIN + (ilon * 1.0 / div) * lon_scale,
        LON_MIN + ((ilon + 1) * 1.0 / div) * lon_scale,
        LAT_MIN + (ilat * 1.0 / div) * lat_scale,
        LAT_MIN + ((ilat + 1) * 1.0 / div) * lat_scale,
    )


def _to_u64(score: float) -> int:
    """C's (uint64_t) cast of a double as x86-64 compiles it (scores set by hand may be anything)."""
    if not math.isfinite(score):
        return 0 if score > 0 else 1 << 63
    if score < 2.0**63:
        return int(score) & M64 if score > -(2.0**63) else 1 << 63
    rest = score - 2.0**63
    return ((int(rest) if rest < 2.0**63 else 1 << 63) ^ (1 << 63)) & M64


def decode_score(score: float) -> tuple[float, float]:
    """decodeGeohash: a zset score → (lon, lat), the centre of its 52-bit cell, clamped."""
    lon_min, lon_max, lat_min, lat_max = decode_area(_to_u64(score), STEP_MAX)
    lon = (lon_min + lon_max) / 2
    lon = min(max(lon, LON_MIN), LON_MAX)
    lat = (lat_min + lat_max) / 2
    lat = min(max(lat, LAT_MIN), LAT_MAX)
    return lon, lat


def _move(bits: int, step: int, dx: int, dy: int) -> int:
    """geohash_move_x / geohash_move_y: the neighbouring cell, wrapping around."""
    shift = 64 - step * 2
    if dx:
        x = bits & 0xAAAAAAAAAAAAAAAA
        y = bits & 0x5555555555555555
        zz = 0x5555555555555555 >> shift
        x = x + (zz + 1) if dx > 0 else (x | zz) - (zz + 1)
        x &= 0xAAAAAAAAAAAAAAAA >> shift
        bits = (x | y) & M64
    if dy:
        x = bits & 0xAAAAAAAAAAAAAAAA
        y = bits & 0x5555555555555555
        zz = 0xAAAAAAAAAAAAAAAA >> shift
        y = y + (zz + 1) if dy > 0 else (y | zz) - (zz + 1)
        y &= 0x5555555555555555 >> shift
        bits = (x | y) & M64
    return bits


# --- geohash_helper.c --------------------------------------------------------------------------------
def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS * abs(lat2 * D_R - lat1 * D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine on Redis's sphere, with its shortcut for points on one meridian."""
    v = _sin((lon2 * D_R - lon1 * D_R) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = lat1 * D_R
    lat2r = lat2 * D_R
    u = _sin((lat2r - lat1r) / 2)
    a = u * u + _cos(lat1r) * _cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS * _asin(_sqrt(a))


def _estimate_steps(range_m: float, lat: float) -> int:
    if range_m == 0:
        return 26
    step = 1
    while range_m < MERCATOR_MAX:
        range_m *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), 26)


class Shape:
    """A search area: centre, radius or box (in the request's unit) and the unit's size in metres."""

    __slots__ = ("conversion", "height", "lat", "lon", "radius", "width")

    def __init__(self) -> None:
        self.lon = self.lat = 0.0
        self.radius: float | None = None
        self.width = self.height = 0.0
        self.conversion = 1.0

    def contains(self, lon: float, lat: float) -> float | None:
        """The distance in metres when (lon, lat) is inside, else None."""
        if self.radius is not None:
            d = distance(self.lon, self.lat, lon, lat)
            return None if d > self.radius * self.conversion else d
        if lat_distance(lat, self.lat) > self.height * self.conversion / 2:
            return None
        if distance(lon, lat, self.lon, lat) > self.width * self.conversion / 2:
            return None
        return distance(self.lon, self.lat, lon, lat)


def search_cells(shape: Shape) -> list[tuple[int, int]]:
    """geohashCalculateAreasByShapeWGS84 + membersOfAllNeighbors' order: the (bits, step) cells to scan,
    centre first, then N, S, E, W, NE, NW, SE, SW; (0, 0) for a cell ruled out."""
    lon, lat = shape.lon, shape.lat
    if shape.radius is not None:
        half_h = half_w = shape.conversion * shape.radius
        radius_m = shape.radius
    else:
        half_h = shape.conversion * (shape.height / 2)
        half_w = shape.conversion * (shape.width / 2)
        radius_m = _sqrt((shape.width / 2) * (shape.width / 2) + (shape.height / 2) * (shape.height / 2))
    radius_m *= shape.conversion
    lat_delta = (half_h / EARTH_RADIUS) / D_R
    lon_delta_top = (half_w / EARTH_RADIUS / _cos((lat + lat_delta) * D_R)) / D_R
    lon_delta_bottom = (half_w / EARTH_RADIUS / _cos((lat - lat_delta) * D_R)) / D_R
    south = lat < 0
    min_lon = lon - lon_delta_bottom if south else lon - lon_delta_top
    max_lon = lon + lon_delta_bottom if south else lon + lon_delta_top
    min_lat = lat - lat_delta
    max_lat = lat + lat_delta

    steps = _estimate_steps(radius_m, lat)
    bits = encode(lon, lat, steps) or 0
    north_a = decode_area(_move(bits, steps, 0, 1), steps)
    south_a = decode_area(_move(bits, steps, 0, -1), steps)
    east_a = decode_area(_move(bits, steps, 1, 0), steps)
    west_a = decode_area(_move(bits, steps, -1, 0), steps)
    if steps > 1 and (north_a[3] < max_lat or south_a[2] > min_lat or east_a[1] < max_lon or west_a[0] > min_lon):
        steps -= 1
        bits = encode(lon, lat, steps) or 0
    area = decode_area(bits, steps)
    moves = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)]
    cells = [(_move(bits, steps, dx, dy), steps) for dx, dy in moves]
    if steps >= 2:
        dropped: set[int] = set()
        if area[2] < min_lat:
            dropped |= {2, 8, 7}  # south, south-west, south-east
        if area[3] > max_lat:
            dropped |= {1, 5, 6}
        if area[0] < min_lon:
            dropped |= {4, 8, 6}
        if area[1] > max_lon:
            dropped |= {3, 7, 5}
        for i in dropped:
            cells[i] = (0, 0)
    return cells


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
    reply = _zadd(ctx, key, flags, tuple(pairs))
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
        lon, lat = decode_score(score)
        # Redis indexes latitudes -85..85; the standard geohash alphabet needs -90..90.
        bits = encode(lon, lat, 26, -90.0, 90.0) or 0
        chars = bytearray()
        for i in range(11):
            idx = 0 if i == 10 else (bits >> (52 - (i + 1) * 5)) & 0x1F
            chars.append(_ALPHABET[idx])
        out.append(bytes(chars))
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
        return store_result(ctx, store, result, "geosearchstore" if flags & SEARCH else "georadiusstore")
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
