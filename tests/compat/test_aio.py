"""aioconnect: the same tables through redis.asyncio."""

from __future__ import annotations

import asyncio

import cyberdb
import pytest
from cyberdb.extensions import DisconCyberDBError, TypeCyberDBError, WrongPasswordCyberDBError

from tests.servers import ServerProcess, free_port, respdb_server


@pytest.fixture(params=["respdb", "redis"])
def backend(request: pytest.FixtureRequest) -> ServerProcess:
    sp = request.getfixturevalue("compat_respdb" if request.param == "respdb" else "compat_redis")
    sp.client().flushall()
    return sp


def test_aioconnect_dict_and_list_round_trip(backend: ServerProcess) -> None:
    async def main() -> None:
        client = cyberdb.aioconnect(port=backend.port)
        async with client.get_proxy() as proxy:
            await proxy.create_cyberdict("centre")
            centre = await proxy.get_cyberdict("centre")
            await centre.setitem("content", "Hello CyberDB!")
            await centre.update({"n": 0}, e="")
            assert await centre["content"] == "Hello CyberDB!"
            assert await centre.todict() == {"content": "Hello CyberDB!", "n": 0, "e": ""}
            assert await centre.len() == 3 and await centre.contains("n") and not await centre.contains("x")
            assert sorted(await centre.keys()) == ["content", "e", "n"] and sorted([k async for k in centre]) == ["content", "e", "n"]
            assert await centre.pop("e") == "" and await centre.pop("e", 1) == 1 and await centre.setdefault("s", []) == []
            with pytest.raises(KeyError):
                await centre["missing"]
            await proxy.create_cyberlist("l", [1, 2, 3])
            lst = await proxy.get_cyberlist("l")
            await lst.insert(1, "x")
            await lst.append(None)
            await lst.delitem(0)
            await lst.setitem(slice(0, 1), ["a", "b"])
            assert await lst.tolist() == ["a", "b", 2, 3, None] and await lst[1:3] == ["b", 2]
            assert await lst.pop() is None and await lst.pop(1) == "b" and await lst.index(3) == 2
            await lst.sort(key=str, reverse=True)
            assert [v async for v in lst] == ["a", 3, 2]
            with pytest.raises(TypeCyberDBError):
                await proxy.get_cyberlist("centre")
            assert await proxy.tables() == {"centre": "CyberDict", "l": "CyberList"}
            await proxy.delete_table("l")
        with pytest.raises(DisconCyberDBError):
            await centre.len()
        await client.close()

    asyncio.run(main())


def test_aioconnect_fails_fast() -> None:
    with pytest.raises(DisconCyberDBError):
        cyberdb.aioconnect(port=free_port())
    with respdb_server("--requirepass", "pw", password="pw") as sp, pytest.raises(WrongPasswordCyberDBError):
        cyberdb.aioconnect(port=sp.port, password="bad")


def test_aioconnect_many_concurrent_tasks(backend: ServerProcess) -> None:
    async def main() -> None:
        client = cyberdb.aioconnect(port=backend.port)
        proxy = client.get_proxy()
        await proxy.connect()
        await proxy.create_cyberlist("l")
        lst = await proxy.get_cyberlist("l")
        await asyncio.gather(*(lst.insert(0, i) for i in range(50)))
        assert sorted(await lst.tolist()) == list(range(50))
        await proxy.close()
        await client.close()

    asyncio.run(main())


def test_aioconnect_time_out_renews_idle_connections(backend: ServerProcess) -> None:
    async def main() -> None:
        renewing = cyberdb.aioconnect(port=backend.port, time_out=0)
        ids = [await renewing.redis.client_id() for _ in range(3)]
        assert len(set(ids)) == 3
        keeping = cyberdb.aioconnect(port=backend.port, time_out=900)
        assert len({await keeping.redis.client_id() for _ in range(3)}) == 1
        await renewing.close()
        await keeping.close()

    asyncio.run(main())
