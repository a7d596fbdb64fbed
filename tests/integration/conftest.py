"""Fixtures: one sandbox for the package (reset before each test), Redis prefixes, a client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.server import SandboxOptions, SandboxUrls, running_sandbox

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

