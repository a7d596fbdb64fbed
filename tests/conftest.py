"""Shared test set-up: a writable numba cache, and a clean Redis key space per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

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
