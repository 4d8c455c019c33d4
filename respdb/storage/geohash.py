"""Redis's geohash arithmetic (geohash.c, geohash_helper.c): the 52-bit cell of a point, its
neighbours, the haversine distance and the 9 cells a radius or box search scans.

A geo position is stored as a zset score: a 52-bit geohash interleaving latitude (even bits) and
longitude (odd bits). Everything here follows Redis step for step — same operations, same order, same
constants, same libm — so coordinates, distances and the cells searched come out digit for digit as
redis-server's. Nothing here knows about commands or replies.
"""

from __future__ import annotations

import math

STEP_MAX = 26
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
LON_MIN, LON_MAX = -180.0, 180.0
EARTH_RADIUS = 6372797.560856
MERCATOR_MAX = 20037726.37
D_R = math.pi / 180.0
M64 = (1 << 64) - 1
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


def base32(lon: float, lat: float) -> bytes:
    """GEOHASH's 11-character string: the standard geohash of the point (latitudes -90..90, not the
    -85..85 Redis indexes), its last character always '0' as Redis has only 52 bits to spell."""
    bits = encode(lon, lat, 26, -90.0, 90.0) or 0
    chars = bytearray()
    for i in range(11):
        idx = 0 if i == 10 else (bits >> (52 - (i + 1) * 5)) & 0x1F
        chars.append(_ALPHABET[idx])
    return bytes(chars)


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
