"""The pixel budget: bounded pixel work at once, first come first served, bounded by deadlines."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from gateway.app import create_app
from gateway.errors import ProviderTimedOut
from gateway.postprocess import PixelBudget
from gateway.settings import parse_settings
from providers.base import Capabilities, ProviderRequest, ProviderResult


async def test_jobs_wait_their_turn_in_order() -> None:
    budget, order, peak = PixelBudget(2.0), [], 0

    async def job(name: str, pixels: int) -> None:
        nonlocal peak
        async with budget.hold(pixels, time.monotonic() + 5):
            peak = max(peak, budget.in_use)
            order.append(name)
            await asyncio.sleep(0.02)

    await asyncio.gather(job("a", 1_500_000), job("b", 1_500_000), job("c", 400_000))
    # c would fit next to a, but b came first: no overtaking, so big jobs never starve
    assert order == ["a", "b", "c"] and peak <= 2_000_000
    assert budget.in_use == 0 and budget.waiting == 0


async def test_a_job_larger_than_the_budget_runs_alone() -> None:
    budget = PixelBudget(1.0)
    async with budget.hold(24_000_000, time.monotonic() + 1):
        assert budget.in_use == 1_000_000
    assert budget.in_use == 0


async def test_waiting_ends_at_the_deadline_and_gives_nothing_away() -> None:
    budget = PixelBudget(1.0)
    async with budget.hold(1_000_000, time.monotonic() + 5):
        with pytest.raises(ProviderTimedOut):
            async with budget.hold(10, time.monotonic() + 0.05):
                pass
        assert budget.waiting == 0
    assert budget.in_use == 0
    async with budget.hold(1_000_000, time.monotonic() + 0.05):
        pass


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    budget = PixelBudget(1.0)
    async with budget.hold(1_000_000, time.monotonic() + 5):
        waiter = asyncio.create_task(budget.hold(5, time.monotonic() + 5).__aenter__())
        await asyncio.sleep(0.01)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert budget.waiting == 0
    assert budget.in_use == 0


class ProxyMask:
    """A vendor answering a 512 px proxy mask: post-processing applies it at full size."""

    name = "proxy"
    capabilities = Capabilities(output="mask")

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        side = 512
        mask = Image.new("L", (side, side * request.height // request.width), 255)
        buffer = io.BytesIO()
        mask.save(buffer, format="PNG")
        return ProviderResult(data=buffer.getvalue(), media_type="image/png", kind="mask",
                              provider=self.name)

    async def aclose(self) -> None:
        """Nothing to close."""


async def test_six_concurrent_large_requests_stay_within_the_budget(tmp_path: Path) -> None:
    settings = parse_settings({
        "providers": {"proxy": {"type": "local"}}, "cache": {"enabled": False},
        "ledger": {"path": str(tmp_path / "usage.sqlite3")},
        "server": {"pixel_budget_mp": 5.0},
    })
    app = create_app(settings, providers={"proxy": ProxyMask()})
    rgb = np.random.default_rng(0).integers(0, 255, (1500, 2000, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=80)
    photo = buffer.getvalue()  # 3 MP: only one fits the 5 MP budget at a time
    async with AsyncTestClient(app=app, timeout=120) as client:
        budget = app.state.runtime.service.budget
        answers = await asyncio.gather(*(
            client.post("/v1/remove-background", files={"image_file": ("p.jpg", photo)})
            for _ in range(6)
        ))
    assert [a.status_code for a in answers] == [200] * 6
    assert all(a.headers["x-width"] == "2000" for a in answers)
    # one 3 MP image at a time (the others queued); /health and RSS: benchmarks/postprocess
    assert budget.peak == 3_000_000 and budget.in_use == 0 and budget.waiting == 0
