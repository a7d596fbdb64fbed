"""The jobs API in process: limits and errors, in-process workers, metrics, records, webhooks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.auth import Client
from gateway.errors import InvalidOption
from gateway.jobs import Jobs
from gateway.jobs.flow import item_request_id
from gateway.jobs.model import ItemRecord, JobMeta
from gateway.jobs.records import JobRecords
from gateway.jobs.store import input_key
from gateway.jobs.webhooks import checked_address, signature
from gateway.keys import hash_client_key
from gateway.runtime import Runtime
from gateway.service import RemovalCall
from gateway.settings import FetchSettings, Settings, parse_settings
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeProvider
from tests.integration.kit import product_jpeg

IMAGE = base64.b64encode(product_jpeg(seed=5, size=40)).decode("ascii")


def _settings(tmp_path: Path, prefix: str | None, **jobs: Any) -> Any:
    state = ({"backend": "redis", "redis_url": TEST_REDIS_URL, "key_prefix": prefix}
             if prefix else {"backend": "memory"})
    return parse_settings({
        "providers": {"fake": {"type": "local"}},
        "ledger": {"path": str(tmp_path / "usage.sqlite3")},
        "cache": {"enabled": False},
        "state": state,
        "jobs": {"result_path": str(tmp_path / "results"), "max_items": 5,
                 "max_job_bytes": 20_000, "heartbeat_s": 2, "sweep_s": 1, **jobs},
    })


@pytest.fixture
async def client(tmp_path: Path, redis_prefix: str) -> AsyncIterator[AsyncTestClient]:
    """The app on Redis state with one in-process worker and a fake provider."""
    app = create_app(_settings(tmp_path, redis_prefix, workers_in_process=1),
                     providers={"fake": FakeProvider("fake", cost=0.5)})
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@pytest.fixture
async def bare(tmp_path: Path, redis_prefix: str) -> AsyncIterator[AsyncTestClient]:
    """The app on Redis state without workers (requests are checked, nothing runs)."""
    app = create_app(_settings(tmp_path, redis_prefix), providers={"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def test_jobs_need_redis_state(tmp_path: Path) -> None:
    """With `[state] backend = "memory"` POST /v1/jobs is a 503 naming the setting."""
    app = create_app(_settings(tmp_path, None), providers={"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as client:
        answer = await client.post("/v1/jobs", json={"items": [{"image_base64": IMAGE}]})
    assert answer.status_code == 503
    problem = answer.json()
    assert problem["code"] == "jobs_unavailable" and "state.backend" in problem["detail"]
    assert answer.headers["content-type"].startswith("application/problem+json")


async def _wait_done(client: AsyncTestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        status: dict[str, Any] = (await client.get(f"/v1/jobs/{job_id}")).json()
        if status["status"] in ("done", "cancelled"):
            return status
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.1)


async def test_multipart_job_runs_on_an_in_process_worker(client: AsyncTestClient) -> None:
    """Repeated image_file parts + options; the worker inside `serve` runs them; metrics."""
    jpeg = product_jpeg(seed=6, size=40)
    files = [("image_file", (f"{i}.jpg", jpeg, "image/jpeg")) for i in range(3)]
    answer = await client.post("/v1/jobs", files=files, data={"format": "webp"})
    assert answer.status_code == 202, answer.text
    status = await _wait_done(client, answer.json()["id"])
    assert (status["succeeded"], status["total"]) == (3, 3)
    assert {item["provider"] for item in status["items"]} == {"fake"}
    assert status["items"][0]["cost"] == 0.5
    result = await client.get(status["items"][2]["result_url"])
    assert result.headers["content-type"] == "image/webp"
    assert result.headers["x-cost"] == "0.5"
    metrics = (await client.get("/metrics")).text
    assert 'bg_gateway_job_items_total{outcome="succeeded"} 3.0' in metrics
    assert "bg_gateway_job_item_seconds_count 3.0" in metrics


async def test_a_failed_item_answers_like_the_synchronous_api(client: AsyncTestClient) -> None:
    """An undecodable image fails its item only; its result is the sync API's problem."""
    body = {"items": [{"image_base64": IMAGE},
                      {"image_base64": base64.b64encode(b"not an image").decode()}]}
    answer = await client.post("/v1/jobs", json=body)
    status = await _wait_done(client, answer.json()["id"])
    assert (status["succeeded"], status["failed"]) == (1, 1)
    error = status["items"][1]["error"]
    assert error["code"] == "unsupported_media_type" and error["status"] == 415
    problem = await client.get(f"/v1/jobs/{status['id']}/items/1")
    assert problem.status_code == 415 and problem.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"items": [{"image_base64": IMAGE}] * 6}, 413, "payload_too_large"),
    ({"items": []}, 400, "missing_image"),
    ({"items": [{"image_base64": IMAGE}], "options": {"format": "gif"}}, 400, "invalid_option"),
    ({"items": [{"image_base64": IMAGE, "image_url": "http://x"}]}, 400, "invalid_option"),
    ({"items": [{"image_base64": IMAGE}], "colour": "red"}, 400, "invalid_option"),
    ({"items": [{"image_base64": IMAGE}], "webhook_url": "http://127.0.0.1:9/x"}, 400,
     "invalid_option"),
])
async def test_job_requests_are_checked(
    bare: AsyncTestClient, body: dict[str, Any], status: int, code: str
) -> None:
    """Item and byte limits, options, item shape, unknown fields, private webhook addresses."""
    answer = await bare.post("/v1/jobs", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code


async def test_job_bytes_limit(bare: AsyncTestClient) -> None:
    """`[jobs] max_job_bytes` counts the decoded images of the whole job."""
    big = base64.b64encode(product_jpeg(seed=1, size=160)).decode("ascii")
    answer = await bare.post("/v1/jobs", json={"items": [{"image_base64": big}] * 5})
    assert answer.status_code == 413
    assert "max_job_bytes" in answer.json()["detail"]


async def test_unknown_job_is_404(bare: AsyncTestClient) -> None:
    """Unknown ids (and malformed ones) are 404 problems."""
    for path in ("/v1/jobs/0123456789abcdef0123456789abcdef", "/v1/jobs/nope/archive"):
        answer = await bare.get(path)
        assert answer.status_code == 404 and answer.json()["code"] == "not_found"


async def test_records_finish_each_item_once(redis_prefix: str) -> None:
    """A second finish of the same item (at-least-once) changes nothing; the last one ends it."""
    records = JobRecords(aioredis.Redis.from_url(TEST_REDIS_URL), redis_prefix, 600)
    try:
        meta = JobMeta(id="a" * 32, owner="anonymous", total=2, options=(), created_at=1.0)
        await records.create(meta, [ItemRecord(), ItemRecord()])
        done = ItemRecord(status="succeeded", finished_at=2.0)
        assert await records.start_item(meta.id, 0, ItemRecord(status="running"))
        assert await records.finish_item(meta.id, 0, done) == 0
        assert await records.finish_item(meta.id, 0, done) == -1
        assert not await records.start_item(meta.id, 0, ItemRecord(status="running"))
        assert await records.finish_item(meta.id, 1, ItemRecord(status="failed")) == 1
        counts = await records.counts(meta.id)
        assert counts is not None
        assert (counts.status, counts.done, counts.succeeded, counts.failed) == ("done", 2, 1, 1)
        assert await records.claim_charge("job-x-0") and not await records.claim_charge("job-x-0")
    finally:
        await records.aclose()


def _shop_settings(tmp_path: Path, redis_prefix: str, monthly_quota: int,
                   **jobs: Any) -> Settings:
    """One fake provider, state on the test Redis, client `shop` (key `shop-key`) with a quota."""
    return parse_settings({
        "providers": {"fake": {"type": "local"}}, "cache": {"enabled": False},
        "ledger": {"path": str(tmp_path / "usage.sqlite3")},
        "state": {"backend": "redis", "redis_url": TEST_REDIS_URL, "key_prefix": redis_prefix},
        "clients": {"shop": {"key_sha256": hash_client_key("shop-key"),
                             "monthly_quota": monthly_quota}},
        "jobs": {"result_path": str(tmp_path / "r"), **jobs},
    })


@contextlib.asynccontextmanager
async def shop_jobs(tmp_path: Path, redis_prefix: str,
                    monthly_quota: int) -> AsyncIterator[tuple[Runtime, Jobs, Client]]:
    """A started runtime (one fake provider) and jobs on the test Redis; client `shop`."""
    settings = _shop_settings(tmp_path, redis_prefix, monthly_quota)
    runtime = Runtime(settings, providers={"fake": FakeProvider("fake")})
    await runtime.start()
    jobs = Jobs(settings, runtime)
    try:
        await jobs.start(gauges=False)
        yield runtime, jobs, Client("shop", settings.clients["shop"])
    finally:
        await jobs.stop()
        await runtime.stop()


async def test_a_job_item_is_recorded_and_charged_once(tmp_path: Path,
                                                       redis_prefix: str) -> None:
    """An `account_once` call (a job item) that ran twice is recorded and charged once; any
    other call every time, even one that spoofs a job item's request id."""
    async with shop_jobs(tmp_path, redis_prefix, monthly_quota=10) as (runtime, _, shop):
        used = []
        for once in (True, True, False, False):
            await runtime.remove(RemovalCall(
                image=base64.b64decode(IMAGE), request_id="job-x-0", client=shop,
                account_once=once))
            used.append(await runtime.auth.used_this_month(shop))
        usage = await runtime.ledger.summarize("shop", None, None)
    assert used == [1, 1, 2, 3]
    assert sum(row.images for row in usage) == 1


async def test_an_item_paid_by_an_earlier_run_passes_the_quota_it_spent(
    tmp_path: Path, redis_prefix: str,
) -> None:
    """The first run was accounted (the client's last image) before its worker died: the re-run
    is not refused `quota_exceeded`, and the client is still charged once."""
    image = base64.b64decode(IMAGE)
    async with shop_jobs(tmp_path, redis_prefix, monthly_quota=1) as (runtime, jobs, shop):
        meta = JobMeta(id="d" * 32, owner="shop", total=2, options=(), created_at=1.0)
        await jobs.records.create(meta, [ItemRecord()] * 2)
        for index in (0, 1):
            await jobs.store.put(input_key(meta.id, index), image)
        await runtime.remove(RemovalCall(image=image, request_id=item_request_id(meta.id, 0),
                                         client=shop, account_once=True))
        await jobs.process_item(meta.id, 0)
        await jobs.process_item(meta.id, 1)  # never paid: the spent quota refuses it
        items = [await jobs.records.item(meta.id, index) for index in (0, 1)]
        used = await runtime.auth.used_this_month(shop)
    assert items[0] is not None and items[0].status == "succeeded"
    assert items[1] is not None and items[1].status == "failed"
    assert items[1].error is not None and items[1].error.code == "quota_exceeded"
    assert used == 1


async def test_webhook_address_checks() -> None:
    """Loopback is refused unless `[fetch] allow_private`; the signature is HMAC-SHA256."""
    with pytest.raises(InvalidOption, match="loopback"):
        await checked_address("http://127.0.0.1:8000/hook", FetchSettings())
    with pytest.raises(InvalidOption, match="http or https"):
        await checked_address("ftp://example.com/hook", FetchSettings())
    _, address = await checked_address("http://127.0.0.1:8000/hook",
                                       FetchSettings(allow_private=True))
    assert address == "127.0.0.1"
    assert signature("k", b"{}") == (
        "sha256=add853b103fbcc936a194f9eb15e29c4ff08af6e47d5d1bca4f20218e31e4fff"
    )


async def test_url_items_are_fetched_by_the_worker_safely(client: AsyncTestClient) -> None:
    """An `image_url` item goes through the SSRF-safe fetcher (loopback refused here)."""
    answer = await client.post("/v1/jobs", json={"items": [
        {"image_url": "http://127.0.0.1:9/product.jpg"}, {"image_base64": IMAGE}]})
    status = await _wait_done(client, answer.json()["id"])
    assert [item["status"] for item in status["items"]] == ["failed", "succeeded"]
    assert status["items"][0]["error"]["code"] == "invalid_image_url"


async def test_items_charge_the_owner_and_stop_at_its_quota(
    tmp_path: Path, redis_prefix: str
) -> None:
    """Items count against the job owner's monthly quota; once spent, the rest fail."""
    settings = _shop_settings(tmp_path, redis_prefix, 2, workers_in_process=1,
                              worker_concurrency=1, heartbeat_s=2, sweep_s=1)
    app = create_app(settings, providers={"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as shop:
        shop.headers["X-API-Key"] = "shop-key"
        answer = await shop.post("/v1/jobs", json={"items": [{"image_base64": IMAGE}] * 3})
        status = await _wait_done(shop, answer.json()["id"])
        # /v1/usage itself is refused now (the quota is spent): read the ledger directly.
        usage = await app.state["runtime"].ledger.summarize("shop", None, None)
    assert (status["succeeded"], status["failed"]) == (2, 1)
    assert [i["error"]["code"] for i in status["items"] if i["status"] == "failed"] == [
        "quota_exceeded"]
    assert sum(row.images for row in usage) == 2


def test_jobs_settings_are_checked() -> None:
    """An S3 store without a bucket stops start-up with a message naming the section."""
    from gateway.settings import SettingsError

    with pytest.raises(SettingsError, match=r"`jobs`.*s3_bucket"):
        parse_settings({"providers": {"fake": {"type": "local"}},
                        "jobs": {"result_store": "s3"}})
    with pytest.raises(SettingsError, match=r"jobs\.max_items"):
        parse_settings({"providers": {"fake": {"type": "local"}}, "jobs": {"max_items": 0}})


async def test_bg_image_url_is_fetched_like_the_sync_api(client: AsyncTestClient) -> None:
    """`bg_image_url` goes through the SSRF-safe fetcher too; a refusal names the option."""
    answer = await client.post("/v1/jobs", json={
        "items": [{"image_base64": IMAGE}],
        "options": {"bg_image_url": "http://127.0.0.1:9/backdrop.jpg"}})
    status = await _wait_done(client, answer.json()["id"])
    error = status["items"][0]["error"]
    assert error["code"] == "invalid_image_url" and "bg_image_url" in error["detail"]


def test_redis_lost_mid_request_is_a_503() -> None:
    """A Redis error inside a jobs route becomes 503 `jobs_unavailable` with Retry-After."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from gateway.errors import JobsUnavailable
    from gateway.jobs.routes import reachable

    with pytest.raises(JobsUnavailable) as caught, reachable():
        raise RedisConnectionError("gone")
    assert caught.value.status == 503 and caught.value.retry_after == 5
