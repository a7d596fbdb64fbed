"""Issue 4 + 6: several gateway processes share one Redis (limits, cooldowns, usage ledger)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import redis

from sandbox.server import SandboxUrls
from tests.integration.kit import (
    DOCUMENTED_CODES,
    REDIS_URL,
    attempts,
    config_data,
    image_calls,
    local,
    product_jpeg,
    provider_status,
    remove,
    set_fault,
    withoutbg,
    write_config,
)
from tests.integration.procs import GatewayProc, gateway_processes

IMAGE = product_jpeg(seed=19, size=128)
INSTANCES = 3
BURST = 40
LIMIT = 7


async def _burst(bases: list[str]) -> list[httpx.Response | BaseException]:
    """BURST requests at once, spread round-robin over the instances."""
    files = {"image_file": ("image.jpg", IMAGE, "image/jpeg")}
    async with httpx.AsyncClient(timeout=120) as client:
        return await asyncio.gather(*(
            client.post(f"{bases[i % len(bases)]}/v1/remove-background", files=files)
            for i in range(BURST)
        ), return_exceptions=True)


def _cooldown_is_shared(procs: list[GatewayProc], sandbox: SandboxUrls,
                        http: httpx.Client, prefix: str) -> int:
    """withoutbg 429s one instance; the others skip it. Returns the answers served (200)."""
    # A long Retry-After: a slow machine must not see the cooldown run out mid-check.
    set_fault(sandbox.withoutbg, status=429, count=1, retry_after=120)
    first = remove(http, procs[0].base, IMAGE)
    assert first.status_code == 200, first.text
    assert attempts(first) == ["withoutbg=rate_limited", "local=ok"]
    for proc in procs[1:]:
        assert provider_status(http, proc.base, "withoutbg")["cooldown_s"] > 0
        other = remove(http, proc.base, IMAGE)
        assert other.status_code == 200
        assert attempts(other) == ["withoutbg=skipped:cooldown", "local=ok"]
    assert len(image_calls(sandbox.withoutbg, "withoutbg")) == 1
    # End the cooldown for every instance at once: it is one key in the shared Redis.
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert client.delete(f"{prefix}cooldown:withoutbg") == 1
    finally:
        client.close()
    for proc in procs:
        assert provider_status(http, proc.base, "withoutbg")["cooldown_s"] == 0
    return len(procs)


def test_instances_share_limits_cooldowns_and_usage(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client, redis_prefix: str
) -> None:
    """40 concurrent requests over 3 instances: at most 7 withoutbg calls, nothing lost."""
    shared: dict[str, Any] = {"redis_url": REDIS_URL, "key_prefix": redis_prefix}
    data = config_data(
        tmp_path,
        {"withoutbg": withoutbg(sandbox, rate_limit=f"{LIMIT}/minute"), "local": local()},
        state={"backend": "redis", **shared},
        ledger={"backend": "redis", **shared},
        server={"log_format": "json"},
    )
    config = write_config(tmp_path / "gateway.toml", data)
    with gateway_processes([config] * INSTANCES, tmp_path) as procs:
        served = _cooldown_is_shared(procs, sandbox, http, redis_prefix)

        answers = asyncio.run(_burst([p.base for p in procs]))
        failures = [a for a in answers if isinstance(a, BaseException)]
        assert not failures, f"requests were lost: {failures[:3]}"
        responses = [a for a in answers if isinstance(a, httpx.Response)]
        for response in responses:
            if response.status_code != 200:
                assert response.json()["code"] in DOCUMENTED_CODES, response.text
        ok = [r for r in responses if r.status_code == 200]
        served += len(ok)

        calls = image_calls(sandbox.withoutbg, "withoutbg")
        # The 429 above spent one unit of the shared window too.
        assert len(calls) <= LIMIT
        via_vendor = [r for r in ok if r.headers["x-provider"] == "withoutbg"]
        assert len(via_vendor) == len([c for c in calls if c["status"] == 200]) >= 1
        assert all(r.headers["x-provider"] in ("withoutbg", "local") for r in ok)
        assert provider_status(http, procs[1].base, "withoutbg")["headroom"] == 0

        # One shared ledger: every instance reports every image served by any of them.
        for proc in procs:
            rows = http.get(f"{proc.base}/v1/usage").json()["usage"]
            assert sum(row["images"] for row in rows) == served
            by_provider = {row["provider"]: row["images"] for row in rows}
            assert by_provider.get("withoutbg", 0) == len(via_vendor)
