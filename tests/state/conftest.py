"""State fixtures: a unique key prefix in Redis database 15, cleaned up after each test."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.state import MemoryState, RedisState, StateBackend

REDIS_URL = "redis://127.0.0.1:6379/15"


def free_port() -> int:
    """A loopback port nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _redis_up() -> bool:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (OSError, RedisError):
        return False
    finally:
        await client.aclose()


async def _fresh_prefix() -> str:
    if not await _redis_up():
        pytest.skip("no Redis server at 127.0.0.1:6379")
    return f"test-bg-state:{uuid.uuid4().hex}:"


async def _clean(prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A fresh key prefix; every key under it is deleted afterwards."""
    prefix = await _fresh_prefix()
    yield prefix
    await _clean(prefix)


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[StateBackend]:
    """Each backend in turn (the contract must hold for both)."""
    if request.param == "memory":
        yield MemoryState()
        return
    prefix = await _fresh_prefix()
    backend = RedisState(REDIS_URL, prefix)
    yield backend
    await backend.aclose()
    await _clean(prefix)
