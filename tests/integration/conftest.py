"""Fixtures: one sandbox for the package (reset before each test), Redis prefixes, a client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis
from redis.exceptions import RedisError

from sandbox.server import SandboxOptions, SandboxUrls, running_sandbox
from tests.integration.kit import REDIS_URL

#: The fake withoutBG's own limit is high: the gateway's `rate_limit` is what these tests check.
SANDBOX_OPTIONS = SandboxOptions(withoutbg_rate_limit="1000/minute")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxUrls]:
    """The three fake vendors on free loopback ports."""
    with running_sandbox(SANDBOX_OPTIONS) as urls:
        yield urls


@pytest.fixture(autouse=True)
def _reset_sandbox(request: pytest.FixtureRequest) -> None:
    """Clear logs, faults, credits and windows before each test that uses the sandbox.

    A module that never reads the logs nor sets faults opts out with `RESET_SANDBOX = False`.
    """
    if "sandbox" not in request.fixturenames or not getattr(request.module, "RESET_SANDBOX", True):
        return
    urls: SandboxUrls = request.getfixturevalue("sandbox")
    with httpx.Client() as client:
        for base in (urls.withoutbg, urls.backgrounderase, urls.backgroundcut):
            client.post(f"{base}/_sandbox/reset").raise_for_status()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain client with a generous timeout (mattes are computed for real)."""
    with httpx.Client(timeout=60) as client:
        yield client


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix in Redis database 15; every key under it is deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except (OSError, RedisError):
        client.close()
        pytest.skip("no Redis server at 127.0.0.1:6379")
    prefix = f"test-bg-int:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
