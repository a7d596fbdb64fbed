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
from PIL import Image

from tests.integration.kit import product_jpeg
from tests.jobs.conftest import (
    OTHER_KEY,
    WEBHOOK_SECRET,
    Received,
    Stack,
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
    """50 items over two workers all succeed; results, archive, signed webhook; others see 404."""
    hook, received = receiver
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

    other = {"X-API-Key": OTHER_KEY}
    for path in ("", "/items/0", "/archive"):
        refused = http.get(f"{stack.base}/v1/jobs/{job_id}{path}", headers=other)
        assert refused.status_code == 404, path
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert http.delete(f"{stack.base}/v1/jobs/{job_id}", headers=other).status_code == 404

    deadline = time.monotonic() + 15
    while not received.calls:
        assert time.monotonic() < deadline, "no webhook delivery"
        time.sleep(0.1)
    headers, body = received.calls[0]
    expected = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-signature"] == f"sha256={expected}"
    delivered = json.loads(body)
    assert delivered["id"] == job_id and delivered["status"] == "done"
    assert delivered["succeeded"] == 50
