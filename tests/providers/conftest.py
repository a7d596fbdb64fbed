"""Fixtures of the adapter tests: one shared httpx client, as the app would inject it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A plain AsyncClient; pytest-httpx intercepts its transport."""
    async with httpx.AsyncClient() as shared:
        yield shared
