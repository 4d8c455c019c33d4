"""Geo commands: redis-py behaviour, and byte-exact agreement with redis-server 7.0 for a set of real
places (positions, hashes, distances in every unit, radius and box searches, STORE forms, errors) and
for random points and searches, which exercise the 9-cell neighbour search near poles, the antimeridian
and cell edges."""

from __future__ import annotations

import shlex

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diff import Differ

PLACES = {
    "Palermo": (13.361389, 38.115556),
    "Catania": (15.087269, 37.502669),
    "Rome": (12.496366, 41.902783),
    "Paris": (2.352222, 48.856613),
    "London": (-0.127758, 51.507351),
    "NewYork": (-74.005941, 40.712784),
    "Tokyo": (139.691706, 35.689487),
    "Rio": (-43.172896, -22.906847),
    "Sydney": (151.209296, -33.86882),
}

# One command per line, shell-quoted, on an empty server.
SCRIPT = """
    geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.496366 41.902783 Rome 2.352222 48.856613 Paris -0.127758 51.507351 London -74.005941 40.712784 NewYork 139.691706 35.689487 Tokyo -43.172896 -22.906847 Rio 151.209296 -33.86882 Sydney 0 0 Null 179.9999 85.05 NE -179.9999 -85.05 SW 180 0 E180
    zrange Sicily 0 -1 withscores
    geopos Sicily Palermo Catania Rome Paris London NewYork Tokyo Rio Sydney Null NE SW E180 nope
    geopos nokey a b
    geohash Sicily Palermo Catania Rome Paris London NewYork Tokyo Rio Sydney Null NE SW E180 nope
    geohash nokey a
    geodist Sicily Palermo Catania
    geodist Sicily Palermo Catania km
    geodist Sicily Palermo Catania mi
    geodist Sicily Palermo Catania ft
    geodist Sicily Palermo Catania M
    geodist Sicily Palermo Catania parsec
    geodist Sicily Palermo Catania km extra
    geodist Sicily Palermo nope
    geodist nokey a b
    geodist Sicily Paris London km
    geodist Sicily Sydney Rio km
    geodist Sicily NE SW km
    geodist Sicily Null E180 km
    georadius Sicily 15 37 200 km
    georadius Sicily 15 37 200 km withdist withcoord withhash
    georadius Sicily 15 37 200 km withdist asc
    georadius Sicily 15 37 200 km withdist desc
    georadius Sicily 15 37 200 km count 1
    georadius Sicily 15 37 2000 km count 2 desc withdist
    georadius Sicily 15 37 20000 km withdist
    georadius Sicily 15 37 20000 km count 3 any
    georadius Sicily 15 37 20000 km count 3 any asc
    georadius Sicily 15 37 20000 km any
    georadius Sicily 15 37 200 km count 0
    georadius Sicily 15 37 200 km count abc
    georadius Sicily 15 37 -1 km
    georadius Sicily 15 37 abc km
    georadius Sicily 15 37 200 parsec
    georadius Sicily 200 37 200 km
    georadius Sicily 15 37 200 km foo
    georadius Sicily 15 37 200 km store dst
    zrange dst 0 -1 withscores
    georadius Sicily 15 37 200 km storedist dst2
    zrange dst2 0 -1 withscores
    georadius Sicily 15 37 200 km store dst withdist
    georadius_ro Sicily 15 37 200 km store dst
    georadius_ro Sicily 15 37 200 km withdist
    georadius nokey 15 37 200 km
    georadius nokey 15 37 200 km store dst
    exists dst
    georadiusbymember Sicily Palermo 200 km withdist withcoord
    georadiusbymember Sicily Palermo 2000 mi withdist asc count 4
    georadiusbymember Sicily nope 200 km
    georadiusbymember nokey nope -5 km
    georadiusbymember_ro Sicily Rome 1500 km withdist
    georadiusbymember Sicily Palermo 200 km store dst3
    zrange dst3 0 -1 withscores
    geosearch Sicily frommember Palermo byradius 200 km withdist
    geosearch Sicily fromlonlat 15 37 byradius 200 km withdist withcoord withhash asc
    geosearch Sicily fromlonlat 15 37 bybox 400 400 km withdist asc
    geosearch Sicily fromlonlat 2 50 bybox 2000 1000 km withdist asc
    geosearch Sicily fromlonlat 0 0 bybox 40000 20000 km withdist asc
    geosearch Sicily fromlonlat 0 0 byradius 20000 km withdist desc
    geosearch Sicily frommember Sydney bybox 15000 8000 km asc withdist
    geosearch Sicily frommember Palermo byradius 200 km fromlonlat 1 2
    geosearch Sicily fromlonlat 1 2 frommember Palermo byradius 200 km
    geosearch Sicily frommember Palermo byradius 200 km bybox 1 1 km
    geosearch Sicily frommember Palermo
    geosearch Sicily byradius 200 km withdist
    geosearch Sicily frommember Palermo bybox -1 1 km
    geosearch Sicily frommember Palermo bybox a 1 km
    geosearch Sicily frommember Palermo bybox 1 a km
    geosearch Sicily frommember Palermo bybox 1 1 parsec
    geosearch Sicily frommember Palermo byradius 200 km store x
    geosearch Sicily frommember Palermo byradius 200 km storedist
    geosearch Sicily frommember Palermo byradius 200 km any
    geosearch nokey frommember Palermo byradius 200 km
    geosearch Sicily frommember nope byradius 200 km
    geosearchstore dst4 Sicily frommember Palermo byradius 2000 km
    zrange dst4 0 -1 withscores
    geosearchstore dst5 Sicily frommember Palermo byradius 2000 km storedist count 2
    zrange dst5 0 -1 withscores
    geosearchstore dst5 Sicily frommember Palermo byradius 2000 km withdist
    geosearchstore dst5 nokey frommember Palermo byradius 2000 km
    exists dst5
    geosearchstore dst5 Sicily frommember Palermo byradius 0 km
    geoadd g nx xx 1 2 a
    geoadd g 1 2
    geoadd g ch 1 2
    geoadd g gt 1 2 a
    geoadd g 1 2 a 3 100 b
    geoadd g 1 abc a
    exists g
    geoadd g ch 1 2 a 3 4 b
    geoadd g ch 1 2 a 3 5 b
    geoadd g nx ch 9 9 a 3 6 c
    geoadd g xx 9 9 a 3 6 d
    set str x
    geoadd str 1 2 a
    geopos str a
    geodist str a b
    geohash str a
    georadius str 1 2 3 km
    geosearch str frommember a byradius 1 km
    geoadd g 0 0 z0 0 10 z1 0 20 z2 10 0 z3 -0.0001 0 z4
    geosearch g fromlonlat 0 0 byradius 3000 km withdist asc
    geosearch g fromlonlat 0 5 byradius 3000 km withdist desc
    geosearch g fromlonlat 0 5 bybox 3000 3000 km withdist
    geodist g z0 z1
    geodist g z0 z2
    geoadd t 0 0 p0 0 0 p1 0 0 p2 0 0 p3 0 0 p4 0 0 p5 0 0 p6 0 0 p7 0 0 p8 0 0 p9
    geosearch t fromlonlat 0 0 byradius 1 m asc
    geosearch t fromlonlat 0 0 byradius 1 m count 3
    geosearch t fromlonlat 0 0 byradius 1 m count 9 desc
    geosearch t fromlonlat 0 0 byradius 1 m count 3 any
    geoadd t2 0.002 0.002 q0 0.002 0.002 q1 0 0.001 q2 0.001 0.002 q3 0 0 q4 0 0.001 q5 0.003 0 q6 0.003 0.002 q7 0 0.002 q8 0.001 0 q9 0.001 0.001 q10 0.002 0 q11 0.003 0 q12 0 0 q13 0.003 0 q14 0.001 0 q15 0 0 q16 0.001 0 q17 0.001 0.001 q18 0.002 0 q19 0.001 0 q20 0.001 0.001 q21 0.002 0 q22 0.002 0.001 q23 0.001 0 q24 0.002 0 q25 0.002 0.001 q26 0 0.002 q27 0.002 0 q28 0.002 0.001 q29 0.002 0.001 q30 0.002 0 q31 0.003 0.001 q32 0.001 0 q33 0.002 0 q34 0.002 0.001 q35 0 0.002 q36 0.003 0.001 q37 0.003 0.002 q38 0 0.001 q39 0 0.002 q40 0.001 0.002 q41 0.001 0 q42 0.001 0.001 q43 0.002 0.002 q44 0.002 0.002 q45 0.002 0.001 q46 0 0.002 q47 0.002 0.001 q48 0 0.001 q49 0 0 q50 0.002 0.002 q51 0.002 0 q52 0.002 0.001 q53 0 0.001 q54 0.002 0.001 q55 0.001 0 q56 0.001 0.002 q57 0.002 0.001 q58 0.001 0.002 q59
    geosearch t2 fromlonlat 0 0 byradius 10 km count 1 withdist
    geosearch t2 fromlonlat 0.0015 0.001 byradius 10 km count 1 desc
    geosearch t2 fromlonlat 0 0 byradius 10 km count 5 withdist
    geosearch t2 fromlonlat 0.0015 0.001 byradius 10 km count 5 desc
    geosearch t2 fromlonlat 0 0 byradius 10 km count 20 withdist
    geosearch t2 fromlonlat 0.0015 0.001 byradius 10 km count 20 desc
    geosearch t2 fromlonlat 0 0 byradius 10 km count 41 withdist
    geosearch t2 fromlonlat 0.0015 0.001 byradius 10 km count 41 desc
    geosearch t2 fromlonlat 0 0 byradius 10 km count 59 withdist
    geosearch t2 fromlonlat 0.0015 0.001 byradius 10 km count 59 desc
    geosearch t2 fromlonlat 0 0 byradius 10 km count 60 withdist
    geosearch t2 fromlonlat 0.0015 0.001 byradius 10 km count 60 desc
    geoadd ties 0.9921875 0.0 p0 1.0 0.0 p1 1.0 0.0 p2 1.0 0.0 p3 1.0 0.0 p4 1.0 0.0 p5 1.0 0.0 p6 1.0 0.0 p7 1.0 0.0 p8 1.0 0.0 p9 1.0 0.0 p10 1.0 0.0 p11 1.0 0.0 p12 1.0 0.0 p13 1.0 0.0 p14 1.0 0.0 p15 1.0 0.0078125 p16
    georadius ties 1.0 0.0 1 km count 3 withdist
    georadius ties 1.0 0.0 1 km count 16 desc
    geosearch ties fromlonlat 1 0 bybox 3 3 km count 7 asc
    zadd g -1 a 1e20 b inf c 4503599627370496 d 9007199254740992 e -inf f 0 z 1.5 h 1e19 i -1e19 j 18446744073709551615 k
    geopos g a b c d e f z h i j k
    geohash g a b c d e f z h i j k
    geodist g a z
    geodist g d e km
    geosearch g fromlonlat 0 0 byradius 30000 km withdist withhash withcoord asc
    geoadd g 180 85.05112878 corner -180 -85.05112878 corner2 180 -85.05112878 c3 -180 85.05112878 c4
    geopos g corner corner2 c3 c4
    geohash g corner corner2 c3 c4
    zscore g corner
    geosearch g fromlonlat 179.99 85 byradius 500 km withdist asc
    geosearch g fromlonlat -179.99 -85 bybox 1000 1000 km withdist asc
    georadius g 0 0 0 m withdist
    georadius g 180 0 20037 km withdist asc
    georadius g 0 85 5000 km count 2 desc withhash
"""


@pytest.fixture(params=[False, True], ids=["resp2", "resp3"])
def differ(request, server, oracle):
    d = Differ(server, oracle, resp3=request.param)
    yield d
    d.close()


def test_geo_script_matches_redis(differ):
    for line in SCRIPT.strip().splitlines():
        differ.check(*shlex.split(line))


def test_geoadd_and_geopos(r):
    assert r.geoadd("g", [*PLACES["Palermo"], "Palermo", *PLACES["Catania"], "Catania"]) == 2
    assert r.zscore("g", "Palermo") == 3479099956230698
    lon, lat = r.geopos("g", "Palermo")[0]
    assert (round(lon, 6), round(lat, 6)) == (13.361389, 38.115556)
    assert r.geopos("g", "nope") == [None]
    assert r.geoadd("g", [10, 10, "Palermo"], nx=True) == 0
    assert r.geoadd("g", [10, 10, "Palermo"], xx=True, ch=True) == 1
    with pytest.raises(redis.ResponseError, match=r"^invalid longitude,latitude pair 200\.000000,10\.000000$"):
        r.geoadd("g", [200, 10, "x"])


def test_geodist_units(r):
    r.geoadd("g", [*PLACES["Palermo"], "Palermo", *PLACES["Catania"], "Catania"])
    assert r.geodist("g", "Palermo", "Catania") == 166274.1516
    assert r.geodist("g", "Palermo", "Catania", "km") == 166.2742
    assert r.geodist("g", "Palermo", "Catania", "mi") == 103.3182
    assert r.geodist("g", "Palermo", "nope") is None
    with pytest.raises(redis.ResponseError, match=r"^unsupported unit provided\. please use M, KM, FT, MI$"):
        r.execute_command("GEODIST", "g", "Palermo", "Catania", "parsec")


def test_geohash_strings(r):
    r.geoadd("g", [*PLACES["Palermo"], "Palermo", *PLACES["Catania"], "Catania"])
    assert r.geohash("g", "Palermo", "Catania", "nope") == ["sqc8b49rny0", "sqdtr74hyu0", None]


def test_geosearch_with_options_resp3(r3):
    for name, (lon, lat) in PLACES.items():
        r3.geoadd("g", [lon, lat, name])
    got = r3.geosearch("g", longitude=15, latitude=37, radius=200, unit="km", withdist=True, withcoord=True, sort="ASC")
    assert [item[0] for item in got] == [b"Catania", b"Palermo"]
    assert got[0][1] == 56.4413
    assert r3.geosearch("g", member="Paris", width=1200, height=1200, unit="km", sort="ASC") == [b"Paris", b"London"]


def test_geosearchstore_and_storedist(r):
    for name, (lon, lat) in PLACES.items():
        r.geoadd("g", [lon, lat, name])
    assert r.geosearchstore("dst", "g", member="Rome", radius=1500, unit="km") == 5
    assert r.zscore("dst", "Rome") == r.zscore("g", "Rome")
    assert r.geosearchstore("dst", "g", member="Rome", radius=1500, unit="km", storedist=True, count=2) == 2
    assert r.zrange("dst", 0, -1, withscores=True)[0] == (b"Rome", 0.0)
    assert r.georadius("g", 15, 37, 200, unit="km", store="r") == 2
    assert r.zcard("r") == 2


def test_georadius_ro_rejects_store(r):
    r.geoadd("g", [1, 2, "a"])
    with pytest.raises(redis.ResponseError, match=r"^syntax error$"):
        r.execute_command("GEORADIUS_RO", "g", 1, 2, 10, "km", "STORE", "x")


# --- random points and searches ---------------------------------------------------------------------------
lon = st.floats(min_value=-180, max_value=180, allow_nan=False)
lat = st.floats(min_value=-85.05112878, max_value=85.05112878, allow_nan=False)


@st.composite
def cluster(draw):
    """Points scattered around a centre (often near a pole, the antimeridian or the equator)."""
    c_lon = draw(st.one_of(lon, st.sampled_from([179.9, -179.9, 0.0, 13.36])))
    c_lat = draw(st.one_of(lat, st.sampled_from([84.9, -84.9, 0.0, 66.5, -80.5])))
    spread = draw(st.sampled_from([0.01, 0.5, 5.0, 60.0]))
    pts = []
    for i in range(draw(st.integers(1, 25))):
        p_lon = max(-180.0, min(180.0, c_lon + draw(st.floats(-spread, spread))))
        p_lat = max(-85.05112878, min(85.05112878, c_lat + draw(st.floats(-spread, spread))))
        pts.append((repr(p_lon), repr(p_lat), f"p{i}"))
    return (repr(c_lon), repr(c_lat)), pts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=cluster(), radius=st.sampled_from(["0", "1", "500", "20000", "300000", "5000000"]),
       box=st.tuples(st.sampled_from(["1", "900", "200000", "4000000"]), st.sampled_from(["1", "900", "200000", "4000000"])),
       unit=st.sampled_from(["m", "km", "ft", "mi"]))
def test_geo_random_searches_match_redis(server, oracle, data, radius, box, unit):
    (c_lon, c_lat), pts = data
    d = Differ(server, oracle)
    try:
        d.check("GEOADD", "g", *[x for p in pts for x in p])
        d.check("ZRANGE", "g", "0", "-1", "WITHSCORES")
        d.check("GEOPOS", "g", *[p[2] for p in pts])
        d.check("GEOHASH", "g", *[p[2] for p in pts])
        d.check("GEODIST", "g", "p0", pts[-1][2], unit)
        d.check("GEOSEARCH", "g", "FROMLONLAT", c_lon, c_lat, "BYRADIUS", radius, unit, "WITHDIST", "WITHHASH", "WITHCOORD", "ASC")
        d.check("GEOSEARCH", "g", "FROMLONLAT", c_lon, c_lat, "BYBOX", box[0], box[1], unit, "WITHDIST", "DESC")
        d.check("GEOSEARCH", "g", "FROMMEMBER", "p0", "BYRADIUS", radius, unit, "WITHDIST")
        d.check("GEORADIUS", "g", c_lon, c_lat, radius, unit, "COUNT", "3", "WITHDIST")
        d.check("GEORADIUSBYMEMBER", "g", "p0", radius, unit, "COUNT", "2", "ANY")
    finally:
        d.close()
