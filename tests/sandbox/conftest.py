"""Fixtures: one sandbox on loopback for the package (reset before every test)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.server import SandboxOptions, SandboxUrls, running_sandbox

TEST_OPTIONS = SandboxOptions(withoutbg_rate_limit="3/minute")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxUrls]:
    """The seven fake vendors on free ports, withoutBG limited to 3 requests/minute."""
    with running_sandbox(TEST_OPTIONS) as urls:
        yield urls


@pytest.fixture(autouse=True)
def _reset(request: pytest.FixtureRequest) -> None:
    """Clear logs, faults, credits, windows and files before each test that uses the sandbox."""
    if "sandbox" not in request.fixturenames:
        return
    urls: SandboxUrls = request.getfixturevalue("sandbox")
    for base in urls.all():
        httpx.post(f"{base}/_sandbox/reset").raise_for_status()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A plain HTTP client (no retries) with a generous timeout for matte computation."""
    with httpx.Client(timeout=60) as http:
        yield http
