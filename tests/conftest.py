"""Shared test set-up: a writable numba cache, and a clean Redis key space per test."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio

os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "numba")
)

#: Tests that need Redis use this database, under a unique key prefix they clean up.
TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix in Redis db 15 (skip without Redis); every key with it is deleted."""
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except (OSError, redis.RedisError):
        client.close()
        pytest.skip(f"no Redis server at {TEST_REDIS_URL}")
    prefix = f"bg-test-{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        # `*prefix*`: libraries such as `limits` put their own namespace in front.
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def own_redis() -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A free port for a private redis-server the test may start, stop and restart."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server binary not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    started: list[subprocess.Popen[bytes]] = []
    yield port, started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=5)


async def start_redis_server(
    port: int, started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """Start redis-server on `port` (no persistence) and wait until it answers."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    started.append(proc)
    client = redis.asyncio.Redis(port=port)
    for _ in range(100):
        try:
            if await client.ping():
                break
        except OSError:
            await asyncio.sleep(0.05)
    await client.aclose()
    return proc
