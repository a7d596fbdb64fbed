"""Redis killed under load: a real gateway process keeps serving on per-process state.

A private redis-server (own port, no persistence) backs the state, the result cache and the
ledger; the gateway has a client with a rate limit and a quota. Killing Redis must cost no 500:
requests are served (or refused 429 by the per-process limiter), `/ready` says `degraded`, the
log says so once per backend, and everything goes back to Redis by itself once it is restarted.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx
import redis

from gateway.keys import hash_client_key, new_client_key
from sandbox.server import SandboxUrls
from tests.conftest import start_redis_server
from tests.integration.kit import config_data, product_jpeg, remove, withoutbg, write_config
from tests.integration.procs import gateway_processes

IMAGES = [product_jpeg(seed=seed, size=96) for seed in range(30, 42)]
LIMIT = 6


def _ready(http: httpx.Client, base: str) -> dict[str, object]:
    answer = http.get(f"{base}/ready")
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def _wait_ready(http: httpx.Client, base: str, degraded: bool) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while True:
        body = _ready(http, base)
        if body["degraded"] is degraded:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def test_killing_redis_costs_no_500_and_recovers(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client,
    own_redis: tuple[int, list[subprocess.Popen[bytes]]],
) -> None:
    port, started = own_redis
    proc = asyncio.run(start_redis_server(port, started))
    url = f"redis://127.0.0.1:{port}/0"
    key, _ = new_client_key("shop")
    data = config_data(
        tmp_path, {"withoutbg": withoutbg(sandbox)},
        server={"log_format": "json"},
        state={"backend": "redis", "redis_url": url, "key_prefix": "outage:"},
        cache={"enabled": True, "backend": "redis", "redis_url": url, "key_prefix": "outage:"},
        ledger={"backend": "redis", "redis_url": url, "key_prefix": "outage:"},
        clients={"shop": {"key_sha256": hash_client_key(key), "rate_limit": f"{LIMIT}/minute",
                          "monthly_quota": 1000}},
    )
    config = write_config(tmp_path / "gateway.toml", data)
    headers = {"X-API-Key": key}
    with gateway_processes([config], tmp_path) as (gateway,):
        assert _ready(http, gateway.base)["degraded"] is False
        before = [remove(http, gateway.base, IMAGES[i], headers=headers) for i in range(2)]
        assert [a.status_code for a in before] == [200, 200]
        assert before[1].headers["ratelimit-remaining"] == str(LIMIT - 2)

        proc.kill()
        proc.wait(timeout=5)
        during = [remove(http, gateway.base, IMAGES[2 + i], headers=headers)
                  for i in range(LIMIT + 2)]
        statuses = [a.status_code for a in during]
        assert 500 not in statuses, [a.text for a in during if a.status_code >= 500]
        # The per-process window starts afresh: LIMIT more, then the limiter still refuses.
        assert statuses == [200] * LIMIT + [429, 429], statuses
        assert during[-1].json()["code"] == "rate_limited"
        assert int(during[-1].headers["retry-after"]) >= 1
        ready = _ready(http, gateway.base)
        assert ready["degraded"] is True and ready["ready"] is True
        partial = http.get(f"{gateway.base}/v1/usage").json()  # anonymous: not rate limited
        assert partial["partial"] is True and "unreachable" in partial["detail"]
        assert sum(row["images"] for row in partial["usage"]) == LIMIT  # this instance's only

        asyncio.run(start_redis_server(port, started))
        # /ready probes each backend's Redis; a successful probe ends that backend's outage.
        assert _wait_ready(http, gateway.base, degraded=False)["redis"] == {
            "state": True, "cache": True, "ledger": True}
        after = remove(http, gateway.base, IMAGES[0], headers=headers)
        assert after.status_code == 200, after.text
        # Back on Redis (restarted empty): a fresh window, where the fallback's is spent.
        assert after.headers["ratelimit-remaining"] == str(LIMIT - 1)
        usage = http.get(f"{gateway.base}/v1/usage")
        assert usage.status_code == 200, usage.text
        assert usage.json()["partial"] is False and "detail" not in usage.json()
        assert gateway.stop() == 0
        log = gateway.log_text()

    events = [json.loads(line) for line in log.splitlines() if line.strip().startswith("{")]
    lost = [e for e in events if e.get("event") == "redis_lost"]
    recovered = [e for e in events if e.get("event") == "redis_recovered"]
    # Once per outage (however many of state, cache and ledger noticed), not once per request.
    assert len(lost) == 1 and len(recovered) == 1, (lost, recovered)
    assert recovered[0]["backend"] == lost[0]["backend"]
    assert lost[0]["backend"] in recovered[0]["backends"]
    assert not [e for e in events if e.get("event") == "unhandled_error"]
    # The records buffered during the outage reached Redis once it came back.
    client = redis.Redis(port=port)
    try:
        assert client.zcard("outage:usage:shop") == LIMIT + 1
    finally:
        client.close()
