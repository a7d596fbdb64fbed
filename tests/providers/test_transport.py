"""VendorTransport: httpx's API over aiohttp's pool, on real loopback servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from litestar import Litestar, Request, get, post

from providers._http import send
from providers.errors import ProviderTimeout, ProviderUnavailable
from providers.transport import VendorTransport
from tests.servers import serve_in_thread


@post("/echo", status_code=201)
async def echo(request: Request) -> bytes:  # type: ignore[type-arg]
    """Answer the body back, with its length and content type in headers."""
    return await request.body()


@get("/slow")
async def slow() -> dict[str, str]:
    """Answer after a wait longer than the tests' short timeout."""
    await asyncio.sleep(1.0)
    return {"ok": "yes"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """A real HTTP server on loopback."""
    with serve_in_thread(Litestar(route_handlers=[echo, slow])) as url:
        yield url


@pytest.fixture
async def hang_up_url() -> AsyncIterator[str]:
    """A TCP server that reads the request and closes the connection without answering."""
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/"
    server.close()
    await server.wait_closed()


async def test_concurrent_posts_round_trip_bodies_and_headers(base_url: str) -> None:
    bodies = [bytes([n]) * (50_000 + n) for n in range(20)]
    async with httpx.AsyncClient(transport=VendorTransport(), base_url=base_url) as client:
        answers = await asyncio.gather(*(
            client.post("/echo", content=body, headers={"content-type": "application/x-test"})
            for body in bodies
        ))
    assert [a.status_code for a in answers] == [201] * 20
    assert [a.content for a in answers] == bodies
    assert all(a.headers["content-length"] == str(len(a.content)) for a in answers)


async def test_refused_connection_is_unavailable_not_timeout() -> None:
    async with httpx.AsyncClient(transport=VendorTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:1/")
        with pytest.raises(ProviderUnavailable, match="connection failed"):
            await send(client, client.build_request("GET", "http://127.0.0.1:1/"), "v", 5.0)


async def test_hang_up_is_a_connection_error(hang_up_url: str) -> None:
    async with httpx.AsyncClient(transport=VendorTransport()) as client:
        with pytest.raises(ProviderUnavailable):
            await send(client, client.build_request("GET", hang_up_url), "v", 5.0)


async def test_slow_answer_is_a_timeout(base_url: str) -> None:
    async with httpx.AsyncClient(transport=VendorTransport()) as client:
        with pytest.raises(ProviderTimeout, match=r"no answer within 0\.2s"):
            await send(client, client.build_request("GET", base_url + "/slow"), "v", 0.2)
