"""Batch-job throughput: items/s for 200 small images through 1, 2 and 4 worker processes.

    python -m benchmarks.jobs.scaling [--items 200] [--workers 1,2,4] [--runs 3]

Real processes over loopback: the fake withoutBG in instant mode (ready-made answers, no matte
computed), one `bg-gateway serve` (no in-process workers) and N `bg-gateway worker` processes on
one Redis (db 14, a fresh key prefix, deleted afterwards). Each run POSTs one job of distinct
64 px JPEGs (the cache is off) and times it from the 202 to `done`. Writes
`benchmarks/results/jobs.md`. The numbers depend on the machine's free cores: run it on a quiet
machine, and read the scaling ratio against the core count.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import redis

from benchmarks.common import RESULTS_DIR
from sandbox.options import WITHOUTBG_KEY
from sandbox.server import SandboxOptions, running_sandbox
from tests.integration.kit import product_jpeg, to_toml
from tests.integration.procs import gateway_processes
from tests.jobs.conftest import start_worker

REDIS_URL = "redis://127.0.0.1:6379/14"
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


class Run(msgspec.Struct):
    """One timed job: throughput and CPU spent per item by each kind of process."""

    rate: float
    worker_ms: float
    gateway_ms: float
    rest_ms: float
    """The fake vendor and this client (one process) plus Redis."""
    cores: float
    """CPU seconds of all of them per wall second."""


def _config(tmp: Path, withoutbg_url: str, prefix: str) -> Path:
    shared = {"redis_url": REDIS_URL, "key_prefix": prefix}
    data = {
        "server": {"log_format": "json"},
        "state": {"backend": "redis", **shared},
        "ledger": {"backend": "redis", **shared},
        "cache": {"enabled": False},
        "jobs": {"result_path": str(tmp / "results"), "worker_concurrency": 8},
        "providers": {"withoutbg": {"type": "withoutbg", "api_key": WITHOUTBG_KEY,
                                    "base_url": withoutbg_url, "rate_limit": "100000/minute"}},
    }
    path = tmp / "bench.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def _run_job(http: httpx.Client, base: str, images: list[str]) -> float:
    """Seconds from the 202 to `done` for one job of `images`."""
    response = http.post(f"{base}/v1/jobs",
                         json={"items": [{"image_base64": i} for i in images]})
    response.raise_for_status()
    job_id = response.json()["id"]
    started = time.perf_counter()
    while True:
        status = http.get(f"{base}/v1/jobs/{job_id}").json()
        if time.perf_counter() - started > 120:
            stuck = [i for i in status["items"] if i["status"] in ("queued", "running")]
            raise RuntimeError(f"job {job_id} not done after 120 s: {stuck[:5]}")
        if status["status"] == "done":
            elapsed = time.perf_counter() - started
            if status["succeeded"] != len(images):
                raise RuntimeError(f"{status['failed']} items failed")
            return elapsed
        time.sleep(0.05)


def _timed(http: httpx.Client, base: str, images: list[str], workers: list[int],
           gateway: int, rest: list[int]) -> Run:
    """One job, with the CPU its processes spent on it."""
    groups = (workers, [gateway], rest)
    before = [sum(cpu_s(pid) for pid in group) for group in groups]
    elapsed = _run_job(http, base, images)
    spent = [sum(cpu_s(pid) for pid in g) - b for g, b in zip(groups, before, strict=True)]
    per_item = [1000 * value / len(images) for value in spent]
    return Run(len(images) / elapsed, *per_item, cores=sum(spent) / elapsed)


def _redis_pid() -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def measure(items: int, workers: list[int], runs: int) -> dict[int, list[Run]]:
    """Timed runs per worker count."""
    images = [base64.b64encode(product_jpeg(seed=i, size=64)).decode("ascii")
              for i in range(items * (runs + 1))]
    prefix = f"bg-bench-{uuid.uuid4().hex[:8]}:"
    results: dict[int, list[Run]] = {}
    rest = [os.getpid(), _redis_pid()]
    try:
        vendor = SandboxOptions(instant=True, withoutbg_rate_limit="100000/minute",
                                withoutbg_credits=10_000_000)
        with (running_sandbox(vendor) as urls,
              tempfile.TemporaryDirectory() as tmp_dir):
            tmp = Path(tmp_dir)
            config = _config(tmp, urls.withoutbg, prefix)
            with gateway_processes([config], tmp) as (gateway,), httpx.Client(timeout=60) as http:
                for count in workers:
                    procs = [start_worker(config, tmp, f"{count}-{i}") for i in range(count)]
                    pids = [proc.process.pid for proc in procs]
                    try:
                        _run_job(http, gateway.base, images[:16])  # warm-up: pools, imports
                        results[count] = []
                        for run in range(runs):
                            chunk = images[(run + 1) * items:(run + 2) * items]
                            result = _timed(http, gateway.base, chunk, pids,
                                            gateway.process.pid, rest)
                            results[count].append(result)
                            print(f"{count} worker(s), run {run + 1}: {result}", flush=True)
                    finally:
                        for proc in procs:
                            proc.stop()
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
    return results


def report(items: int, results: dict[int, list[Run]], command: str, load: str) -> str:
    """The Markdown report."""
    base = statistics.median(r.rate for r in results[min(results)])
    lines = [
        "# Batch jobs: throughput by worker count",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `{command}`, {os.cpu_count()} cores, "
        f"load average {load} (the machine was shared with other busy processes while this "
        "ran: read the ratios with that in mind).",
        "",
        f"One job of {items} distinct 64 px JPEGs per run; fake withoutBG in instant mode; "
        "one gateway process; each worker process runs 8 items at once; cache off. CPU columns: "
        "CPU milliseconds per item spent by all workers, the gateway, and the rest (the fake "
        "vendor + this client, one process, and Redis); `cores busy` is their CPU seconds per "
        "wall second (medians).",
        "",
        "| workers | items/s (median) | runs | scaling vs 1 worker | worker CPU ms/item "
        "| gateway CPU ms/item | rest CPU ms/item | cores busy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for count, runs in sorted(results.items()):
        rate = statistics.median(r.rate for r in runs)

        def med(field: str, runs: list[Run] = runs) -> float:
            return statistics.median(getattr(r, field) for r in runs)

        shown = ", ".join(f"{r.rate:.1f}" for r in runs)
        lines.append(
            f"| {count} | {rate:.1f} | {shown} | {rate / base:.2f}x | {med('worker_ms'):.1f} "
            f"| {med('gateway_ms'):.1f} | {med('rest_ms'):.1f} | {med('cores'):.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run and write `benchmarks/results/jobs.md`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    before = os.getloadavg()[0]
    results = measure(args.items, counts, args.runs)
    load = f"{before:.1f} before, {os.getloadavg()[0]:.1f} after"
    command = (f"python -m benchmarks.jobs.scaling --items {args.items} --workers "
               f"{args.workers} --runs {args.runs}")
    text = report(args.items, results, command, load)
    (RESULTS_DIR / "jobs.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
