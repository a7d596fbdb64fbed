"""remove.bg's account and billing: the balance comes from the ledger; no subject, no charge."""

from __future__ import annotations

import io
import time
from pathlib import Path

from litestar.testing import AsyncTestClient
from PIL import Image

from gateway.api.dropin_credits import month_start
from gateway.ledger import UsageRecord
from gateway.runtime import Runtime
from providers.base import ProviderResult
from tests.dropin.conftest import CLIENT_KEY, client_auth, dropin_app, dropin_settings, photo
from tests.fakes import FakeProvider

KEY = {"X-Api-Key": CLIENT_KEY}
UPLOAD = {"image_file": ("file.jpg", photo(64, 48), "image/jpeg")}


def runtime_of(client: AsyncTestClient) -> Runtime:
    """The running gateway behind a test client."""
    runtime: Runtime = client.app.state.runtime
    return runtime


def empty_cutout(cost: float) -> ProviderResult:
    """A fully transparent cut-out (no subject) that cost the gateway `cost`."""
    buffer = io.BytesIO()
    Image.new("RGBA", (64, 48), (0, 0, 0, 0)).save(buffer, format="PNG")
    return ProviderResult(data=buffer.getvalue(), media_type="image/png", kind="cutout",
                          provider="fake", cost=cost)


async def credits(client: AsyncTestClient) -> float:
    """`credits.total` of GET /v1.0/account for the test client."""
    response = await client.get("/v1.0/account", headers=KEY)
    assert response.status_code == 200
    total: float = response.json()["data"]["attributes"]["credits"]["total"]
    return total


def test_month_start_is_the_utc_calendar_month() -> None:
    assert month_start(1_717_243_200.0) == 1_717_200_000.0  # 2024-06-01 12:00 -> 00:00 UTC
    assert month_start(1_717_199_999.0) == 1_714_521_600.0  # 2024-05-31 23:59:59 -> May 1st


async def test_account_counts_the_ledger_this_month(tmp_path: Path) -> None:
    """Images the ledger billed the client this month (not earlier ones, not others') are spent.

    The quota counter lives in the state backend (memory by default: it starts at 0 again after a
    restart); the ledger is the gateway's durable record of what it served the client.
    """
    settings = dropin_settings(tmp_path, client_auth(monthly_quota=5))
    async with AsyncTestClient(app=dropin_app(settings, {"fake": FakeProvider("fake")})) as client:
        ledger = runtime_of(client).ledger
        now = time.time()
        for request_id, name, when, hit in (
            ("this-month", "alice", now - 1, False), ("cached", "alice", now - 1, True),
            ("last-month", "alice", month_start(now) - 60, False), ("bob", "bob", now, False),
        ):
            await ledger.record(UsageRecord(request_id=request_id, client=name, provider="fake",
                                            cost=0.0 if hit else 2.0, cache_hit=hit,
                                            timestamp=when))
        before = await credits(client)
        served = await client.post("/v1.0/removebg", headers=KEY, files=UPLOAD)
        after = await credits(client)
    assert served.status_code == 200
    assert (before, after) == (3.0, 2.0)


async def test_unknown_foreground_is_not_billed_to_the_client(tmp_path: Path) -> None:
    """No subject: 400, the client's quota untouched; the ledger keeps the vendor's cost apart."""
    settings = dropin_settings(tmp_path, client_auth(monthly_quota=1))
    fake = FakeProvider("fake", cost=2.0, script=[empty_cutout(2.0)])
    async with AsyncTestClient(app=dropin_app(settings, {"fake": fake})) as client:
        nothing = await client.post("/v1.0/removebg", headers=KEY, files=UPLOAD)
        left = await credits(client)
        served = await client.post("/v1.0/removebg", headers=KEY, files=UPLOAD)
        rows = await runtime_of(client).ledger.summarize(None, None, None)
    assert nothing.status_code == 400
    assert nothing.json()["errors"][0]["code"] == "unknown_foreground"
    assert "x-credits-charged" not in nothing.headers
    assert left == 1.0
    assert served.status_code == 200  # the quota of one image was not spent on the empty answer
    assert {(row.client, row.images, row.cost) for row in rows} == {
        ("alice", 1, 2.0), ("unbilled:alice", 1, 2.0)}
