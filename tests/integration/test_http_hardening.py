"""Issue 6 over real HTTP (in-thread gateway): cache single-flight, no-store, client auth."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from gateway.keys import hash_client_key, new_client_key
from sandbox.server import SandboxUrls
from tests.integration.kit import (
    image_calls,
    local,
    product_jpeg,
    remove,
    running_gateway,
    set_fault,
    settings_for,
    withoutbg,
)

IMAGE = product_jpeg(seed=17, size=160)


async def _burst(base: str, count: int, headers: dict[str, str]) -> list[httpx.Response]:
    files = {"image_file": ("image.jpg", IMAGE, "image/jpeg")}
    async with httpx.AsyncClient(timeout=60) as client:
        return await asyncio.gather(*(
            client.post(f"{base}/v1/remove-background", files=files,
                        data={"provider": "withoutbg"}, headers=headers)
            for _ in range(count)
        ))


def test_identical_concurrent_requests_call_the_vendor_once(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    """20 identical requests at once: one vendor call, 19 answers served as cache hits."""
    settings = settings_for(tmp_path, {"withoutbg": withoutbg(sandbox)},
                            cache={"enabled": True, "backend": "memory"})
    # The vendor stalls, so the 19 followers arrive while the leader is still in flight.
    set_fault(sandbox.withoutbg, count=1, delay_s=0.5)
    with running_gateway(settings) as base:
        responses = asyncio.run(_burst(base, 20, {}))
        assert [r.status_code for r in responses] == [200] * 20
        assert sorted(r.headers["x-cache"] for r in responses) == ["hit"] * 19 + ["miss"]
        assert len(image_calls(sandbox.withoutbg, "withoutbg")) == 1
        sizes = {(r.headers["x-width"], r.headers["x-height"]) for r in responses}
        assert len(sizes) == 1 and all(r.headers["x-provider"] == "withoutbg" for r in responses)

        # Cache-Control: no-store bypasses the cache: each such request is a vendor call.
        for _ in range(2):
            fresh = remove(http, base, IMAGE, headers={"Cache-Control": "no-store"},
                           provider="withoutbg")
            assert fresh.status_code == 200 and fresh.headers["x-cache"] == "miss"
            assert fresh.headers["x-attempts"] == "withoutbg=ok"
        assert len(image_calls(sandbox.withoutbg, "withoutbg")) == 3
        again = remove(http, base, IMAGE, provider="withoutbg")
        assert again.headers["x-cache"] == "hit"
        assert len(image_calls(sandbox.withoutbg, "withoutbg")) == 3


def test_client_keys_and_client_rate_limit(tmp_path: Path, http: httpx.Client) -> None:
    """401 without or with a wrong key; 200 with X-API-Key or Bearer; 429 over 2/minute."""
    key, _ = new_client_key("shop")
    settings = settings_for(
        tmp_path, {"local": local()}, auth={"required": True},
        clients={"shop": {"key_sha256": hash_client_key(key), "rate_limit": "2/minute"}},
    )
    with running_gateway(settings) as base:
        for headers in ({}, {"X-API-Key": "bgw_not-the-key-at-all-000000"},
                        {"Authorization": "Basic c2hvcDpzaG9w"}):
            refused = remove(http, base, IMAGE, headers=headers)
            assert refused.status_code == 401
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["code"] == "unauthorized"

        by_header = remove(http, base, IMAGE, headers={"X-API-Key": key})
        by_bearer = remove(http, base, IMAGE, headers={"Authorization": f"Bearer {key}"})
        for answer, left in ((by_header, "1"), (by_bearer, "0")):
            assert answer.status_code == 200, answer.text
            assert answer.headers["ratelimit-limit"] == "2"
            assert answer.headers["ratelimit-remaining"] == left

        over = remove(http, base, IMAGE, headers={"X-API-Key": key})
        assert over.status_code == 429
        assert over.json()["code"] == "rate_limited"
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert over.headers["ratelimit-limit"] == "2"
        assert over.headers["ratelimit-remaining"] == "0"
        assert 0 <= int(over.headers["ratelimit-reset"]) <= 60

        assert http.get(f"{base}/v1/usage").status_code == 401
