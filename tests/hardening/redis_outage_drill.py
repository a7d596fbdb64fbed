"""Drill (not a test): 8 concurrent clients on a real gateway while its private Redis is killed.

    .venv/bin/python -m tests.hardening.redis_outage_drill

Starts the fake vendors (instant answers), a private redis-server on a free port (state, result
cache and ledger on it, a client with a rate limit and a quota), and one gateway process; loads it
for 4 s per phase: before, with Redis killed (SIGKILL), and after Redis is started again. Prints
the status codes, latency and /ready of each phase, and the log's Redis and crash lines.
"""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

from gateway.keys import hash_client_key, new_client_key
from sandbox.server import SandboxOptions, running_sandbox
from tests.conftest import start_redis_server
from tests.integration.kit import config_data, product_jpeg, withoutbg, write_config
from tests.integration.procs import gateway_processes
from tests.servers import free_port

IMAGES = [product_jpeg(seed=seed, size=96) for seed in range(200)]
CONCURRENCY = 8
PHASE_S = 4.0


async def _load(base: str, key: str) -> dict[str, object]:
    """CONCURRENCY clients posting images for PHASE_S seconds; statuses and latency."""
    counts: collections.Counter[int] = collections.Counter()
    latencies: list[float] = []
    end = time.monotonic() + PHASE_S
    async with httpx.AsyncClient(timeout=30) as client:

        async def worker(index: int) -> None:
            while time.monotonic() < end:
                started = time.perf_counter()
                answer = await client.post(
                    f"{base}/v1/remove-background", headers={"X-API-Key": key},
                    files={"image_file": ("a.jpg", IMAGES[index % len(IMAGES)])},
                )
                latencies.append(time.perf_counter() - started)
                counts[answer.status_code] += 1
                index += CONCURRENCY

        await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
    latencies.sort()
    return {"statuses": dict(counts), "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1)}


def _sandbox_options() -> SandboxOptions:
    return SandboxOptions(
        instant=True, withoutbg_rate_limit="100000/minute", withoutbg_port=free_port(),
        backgrounderase_port=free_port(), backgroundcut_port=free_port(),
        removebg_port=free_port(), photoroom_port=free_port(), clipdrop_port=free_port(),
        rembg_port=free_port(),
    )


def main() -> None:
    """Run the three phases and print what each saw."""
    port = free_port()
    started: list[subprocess.Popen[bytes]] = []
    redis_proc = asyncio.run(start_redis_server(port, started))
    url = f"redis://127.0.0.1:{port}/0"
    key, _ = new_client_key("shop")
    shared = {"redis_url": url, "key_prefix": "drill:"}
    with TemporaryDirectory() as tmp_dir, running_sandbox(_sandbox_options()) as urls:
        tmp = Path(tmp_dir)
        data = config_data(
            tmp, {"withoutbg": withoutbg(urls, rate_limit="100000/minute")},
            server={"log_format": "json"}, state={"backend": "redis", **shared},
            cache={"enabled": True, "backend": "redis", **shared},
            ledger={"backend": "redis", **shared},
            clients={"shop": {"key_sha256": hash_client_key(key),
                              "rate_limit": "100000/minute", "monthly_quota": 1_000_000}},
        )
        config = write_config(tmp / "gateway.toml", data)
        phases: dict[str, dict[str, object]] = {}
        with gateway_processes([config], tmp) as (gateway,):
            for phase in ("before", "outage", "after"):
                if phase == "outage":
                    redis_proc.kill()
                    redis_proc.wait()
                elif phase == "after":
                    asyncio.run(start_redis_server(port, started))
                phases[phase] = asyncio.run(_load(gateway.base, key))
                phases[phase]["ready_degraded"] = httpx.get(f"{gateway.base}/ready").json()[
                    "degraded"]
            gateway.stop()
            log = gateway.log_text()
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    print(json.dumps(phases, indent=1))
    for name in ("redis_lost", "redis_recovered", "unhandled_error"):
        print(name, sum(event.get("event") == name for event in events))


if __name__ == "__main__":
    main()
