"""Issue 15: batch jobs through a real gateway and real worker processes over loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
import zipfile

import httpx
import redis
from PIL import Image

from tests.integration.kit import REDIS_URL, product_jpeg, set_fault
from tests.jobs.conftest import (
    OTHER_KEY,
    WEBHOOK_SECRET,
    Received,
    Stack,
    clear_faults,
    item_lines,
    owner,
    wait_finished,
)

SMALL = [product_jpeg(seed=i, size=48) for i in range(5)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _post(http: httpx.Client, base: str, count: int, options: dict[str, object],
          webhook: str | None = None) -> str:
    body: dict[str, object] = {"items": [{"image_base64": _b64(SMALL[i % len(SMALL)])}
                                         for i in range(count)], "options": options}
    if webhook:
        body["webhook_url"] = webhook
    response = http.post(f"{base}/v1/jobs", json=body, headers=owner())
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] == "queued" and created["total"] == count
    assert response.headers["location"] == f"/v1/jobs/{created['id']}"
    job_id: str = created["id"]
    return job_id


def test_fifty_items_two_workers_webhook_and_privacy(
    stack: Stack, http: httpx.Client, receiver: tuple[str, Received]
) -> None:
    """50 items over two workers succeed; results, archive, a signed webhook retried after a 500;
    another client sees 404."""
    hook, received = receiver
    received.fail_next = 1
    job_id = _post(http, stack.base, 50, {"provider": "withoutbg", "format": "png"}, hook)
    status = wait_finished(http, stack.base, job_id)
    assert status["status"] == "done"
    assert (status["succeeded"], status["failed"], status["done"]) == (50, 0, 50)
    assert [item["index"] for item in status["items"]] == list(range(50))
    assert {item["provider"] for item in status["items"]} == {"withoutbg"}
    for worker in stack.workers:
        assert item_lines(worker, job_id), "both workers took items"

    one = http.get(f"{stack.base}{status['items'][7]['result_url']}", headers=owner())
    assert one.status_code == 200 and one.headers["content-type"] == "image/png"
    assert one.headers["x-provider"] == "withoutbg"
    assert Image.open(io.BytesIO(one.content)).mode == "RGBA"
    as_json = http.get(f"{stack.base}/v1/jobs/{job_id}/items/7",
                       headers={**owner(), "Accept": "application/json"}).json()
    assert as_json["provider"] == "withoutbg"
    assert as_json["width"] == int(one.headers["x-width"]) > 0

    archive = http.get(f"{stack.base}/v1/jobs/{job_id}/archive", headers=owner())
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert len(names) == 50 and names[0] == "00000.png"

    metrics = http.get(stack.worker_metrics).text
    ran = len(item_lines(stack.workers[1], job_id))
    assert f'bg_gateway_job_items_total{{outcome="succeeded"}} {ran}.0' in metrics
    gateway_metrics = http.get(f"{stack.base}/metrics").text
    assert 'bg_gateway_job_queue_items{state="queued"}' in gateway_metrics

    other = {"X-API-Key": OTHER_KEY}
    for path in ("", "/items/0", "/archive"):
        refused = http.get(f"{stack.base}/v1/jobs/{job_id}{path}", headers=other)
        assert refused.status_code == 404, path
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert http.delete(f"{stack.base}/v1/jobs/{job_id}", headers=other).status_code == 404

    deadline = time.monotonic() + 15
    while len(received.calls) < 2:
        assert time.monotonic() < deadline, f"{len(received.calls)} webhook deliveries, want 2"
        time.sleep(0.1)
    assert received.calls[0][1] == received.calls[1][1], "the failed delivery was retried"
    headers, body = received.calls[1]
    expected = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-signature"] == f"sha256={expected}"
    delivered = json.loads(body)
    assert delivered["id"] == job_id and delivered["status"] == "done"
    assert delivered["succeeded"] == 50


def _usage_images(http: httpx.Client, base: str, since: float, provider: str) -> int:
    rows = http.get(f"{base}/v1/usage", params={"from": str(since)}, headers=owner()).json()
    return sum(row["images"] for row in rows["usage"] if row["provider"] == provider)


def test_sigkilled_worker_loses_nothing_and_charges_once(stack: Stack, http: httpx.Client) -> None:
    """A worker SIGKILLed mid-job: its items are swept back, the job completes, one charge each."""
    since = time.time() - 1
    set_fault(stack.urls.backgrounderase, delay_s=0.4, count=500)
    job_id = _post(http, stack.base, 24, {"provider": "backgrounderase"})
    deadline = time.monotonic() + 20
    while not item_lines(stack.workers[0], job_id):
        assert time.monotonic() < deadline, "worker 0 never took an item"
        time.sleep(0.05)
    stack.workers[0].kill()
    try:
        status = wait_finished(http, stack.base, job_id, timeout_s=45)
    finally:
        clear_faults(stack.urls.backgrounderase)
    assert status["status"] == "done"
    assert (status["succeeded"], status["failed"]) == (24, 0)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        raw = client.mget([f"saq:job:{stack.prefix}jobs:{job_id}:{i}" for i in range(24)])
    finally:
        client.close()
    attempts = [json.loads(value)["attempts"] for value in raw if value]
    assert max(attempts) >= 2, "an item of the killed worker ran again elsewhere"
    assert _usage_images(http, stack.base, since, "backgrounderase") == 24


def test_rate_limited_vendor_falls_back_to_local(stack: Stack, http: httpx.Client) -> None:
    """A vendor at 7/minute plus local: every item succeeds, the vendor serves at most 7."""
    job_id = _post(http, stack.base, 12, {"providers": "limited,local"})
    status = wait_finished(http, stack.base, job_id)
    assert (status["succeeded"], status["failed"]) == (12, 0)
    providers = [item["provider"] for item in status["items"]]
    assert 1 <= providers.count("limited") <= 7
    assert providers.count("local") == 12 - providers.count("limited")


def test_items_wait_for_headroom_instead_of_failing(stack: Stack, http: httpx.Client) -> None:
    """Pinned to a 3/second vendor with no fallback: items wait for the window, none fails."""
    job_id = _post(http, stack.base, 8, {"provider": "burst", "fallback": False})
    status = wait_finished(http, stack.base, job_id)
    assert (status["succeeded"], status["failed"]) == (8, 0)
    assert {item["provider"] for item in status["items"]} == {"burst"}
    waits = [line for worker in stack.workers for line in worker.log_text().splitlines()
             if '"job_item_waiting"' in line and job_id in line]
    assert waits, "some item waited for rate-limit headroom"


def test_cancel_stops_the_items_not_started(stack: Stack, http: httpx.Client) -> None:
    """DELETE cancels queued items; running ones finish; the job ends `cancelled`."""
    set_fault(stack.urls.backgrounderase, delay_s=0.8, count=500)
    try:
        job_id = _post(http, stack.base, 30, {"provider": "backgrounderase"})
        deadline = time.monotonic() + 20
        while http.get(f"{stack.base}/v1/jobs/{job_id}", headers=owner()).json()["status"] \
                == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        answer = http.delete(f"{stack.base}/v1/jobs/{job_id}", headers=owner())
        assert answer.status_code == 200
        assert answer.json()["cancelled"] >= 10
        status = wait_finished(http, stack.base, job_id)
    finally:
        clear_faults(stack.urls.backgrounderase)
    assert status["status"] == "cancelled"
    assert status["failed"] == 0
    assert status["succeeded"] + status["cancelled"] == 30
    cancelled = [item for item in status["items"] if item["status"] == "cancelled"]
    assert len(cancelled) == status["cancelled"]
    missing = http.get(f"{stack.base}/v1/jobs/{job_id}/items/{cancelled[0]['index']}",
                       headers=owner())
    assert missing.status_code == 404
