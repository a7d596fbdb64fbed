"""PooledTransport: small pools filled in order, slots released when bodies close."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar, get

from providers.transport import PooledTransport
from tests.servers import serve_in_thread


@get("/slow")
async def slow() -> dict[str, str]:
    """Answer after a short wait, so requests overlap."""
    await asyncio.sleep(0.05)
    return {"ok": "yes"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """A real HTTP server on loopback."""
    with serve_in_thread(Litestar(route_handlers=[slow])) as url:
        yield url


async def test_concurrent_requests_spread_over_small_pools(base_url: str) -> None:
    transport = PooledTransport(max_connections=40, per_pool=4)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        answers = await asyncio.gather(*(client.get("/slow") for _ in range(20)))
        assert all(a.status_code == 200 and a.json() == {"ok": "yes"} for a in answers)
        assert 1 < len(transport._pools) <= 10
        assert transport._busy == [0] * len(transport._pools)
        # Quiet again: sequential requests all go to the first pool.
        for _ in range(3):
            assert (await client.get("/slow")).status_code == 200
        assert transport._busy[0] == 0


async def test_failed_request_releases_its_slot() -> None:
    transport = PooledTransport(max_connections=8, per_pool=4)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:1/")
    assert transport._busy == [0]
