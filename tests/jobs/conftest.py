"""Real processes for the jobs tests: a gateway, queue workers, the sandbox vendors, a webhook
receiver, all on loopback, over one Redis key prefix (db 15) that is deleted afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from gateway.keys import hash_client_key
from sandbox.server import SandboxOptions, SandboxUrls, running_sandbox
from tests.integration.kit import (
    REDIS_URL,
    backgrounderase,
    config_data,
    local,
    withoutbg,
    write_config,
)
from tests.integration.procs import GatewayProc, gateway_processes
from tests.servers import ROOT, free_port

OWNER_KEY = "jobs-owner-key"
OTHER_KEY = "jobs-other-key"
WEBHOOK_SECRET = "test-webhook-secret"
WORKER_START_S = 60.0


@dataclass
class WorkerProc:
    """One `bg-gateway worker` process."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        """Its stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up at all."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(config: Path, log_dir: Path, name: str) -> WorkerProc:
    """Start a worker process and wait until it says it is taking items."""
    log_path = log_dir / f"worker-{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker", "--config", str(config)],
            cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=log_file,
        )
    worker = WorkerProc(process, log_path)
    deadline = time.monotonic() + WORKER_START_S
    while "worker_started" not in worker.log_text():
        if process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"worker did not start: {worker.log_text()[-2000:]}")
        time.sleep(0.1)
    return worker


@dataclass
class Received:
    """Deliveries the webhook receiver got (headers, raw body); it answers 500 `fail_next` times."""

    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail_next: int = 0


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, Received]]:
    """A loopback HTTP server that records every POST (the webhook receiver)."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            received.calls.append(({k.lower(): v for k, v in self.headers.items()},
                                   self.rfile.read(length)))
            failing = received.fail_next > 0
            received.fail_next -= int(failing)
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def jobs_prefix() -> Iterator[str]:
    """A Redis key prefix for the module; every key containing it is deleted at the end."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except (OSError, redis.RedisError):
        pytest.skip(f"no Redis server at {REDIS_URL}")
    prefix = f"bg-jobs-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(scope="module")
def vendors() -> Iterator[SandboxUrls]:
    """The fake vendors (withoutBG's own limit high: the gateway's limits are under test)."""
    with running_sandbox(SandboxOptions(withoutbg_rate_limit="1000/minute")) as urls:
        yield urls


def jobs_config(tmp: Path, urls: SandboxUrls, prefix: str, **jobs: Any) -> dict[str, Any]:
    """A config with Redis state and ledger, two clients, three vendor entries and local."""
    shared = {"redis_url": REDIS_URL, "key_prefix": prefix}
    providers = {
        "withoutbg": withoutbg(urls),
        "limited": withoutbg(urls, rate_limit="7/minute", priority=5),
        "burst": withoutbg(urls, rate_limit="3/second", priority=50),
        "backgrounderase": backgrounderase(urls, priority=60),
        "local": local(),
    }
    clients = {
        "owner": {"key_sha256": hash_client_key(OWNER_KEY)},
        "other": {"key_sha256": hash_client_key(OTHER_KEY)},
    }
    return config_data(
        tmp, providers, state={"backend": "redis", **shared}, ledger={"backend": "redis", **shared},
        auth={"required": True}, clients=clients, fetch={"allow_private": True},
        server={"log_format": "json"},
        jobs={"result_path": str(tmp / "results"), "heartbeat_s": 2, "sweep_s": 1,
              "retry_delay_s": 0.2, "webhook_secret": WEBHOOK_SECRET, "worker_concurrency": 4,
              **jobs},
    )


@dataclass
class Stack:
    """A gateway, its workers and what the tests need to reach them."""

    base: str
    config: Path
    workers: list[WorkerProc]
    gateway: GatewayProc
    urls: SandboxUrls
    prefix: str
    log_dir: Path
    worker_metrics: str
    """The `/metrics` URL of worker 1."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, vendors: SandboxUrls,
          jobs_prefix: str) -> Iterator[Stack]:
    """One gateway process and two worker processes sharing Redis and a result directory."""
    tmp = tmp_path_factory.mktemp("jobs")
    config = write_config(tmp / "gateway.toml", jobs_config(tmp, vendors, jobs_prefix))
    # The second worker serves its own metrics (a worker's items count in its own registry).
    metrics_port = free_port()
    with_metrics = write_config(tmp / "worker-metrics.toml", jobs_config(
        tmp, vendors, jobs_prefix, worker_metrics_port=metrics_port))
    with gateway_processes([config], tmp) as (gateway,):
        workers = [start_worker(config, tmp, "0"), start_worker(with_metrics, tmp, "1")]
        try:
            yield Stack(gateway.base, config, workers, gateway, vendors, jobs_prefix, tmp,
                        f"http://127.0.0.1:{metrics_port}/metrics")
        finally:
            for worker in workers:
                worker.stop()


def owner() -> dict[str, str]:
    """Headers of the client that owns the jobs."""
    return {"X-API-Key": OWNER_KEY}


def wait_finished(http: httpx.Client, base: str, job_id: str, timeout_s: float = 40.0
                  ) -> dict[str, Any]:
    """Poll the job until done or cancelled; its status document."""
    deadline = time.monotonic() + timeout_s
    while True:
        status: dict[str, Any] = http.get(f"{base}/v1/jobs/{job_id}", headers=owner()).json()
        if status["status"] in ("done", "cancelled"):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"job not finished: {json.dumps(status)[:600]}")
        time.sleep(0.2)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain client with a generous timeout."""
    with httpx.Client(timeout=60) as client:
        yield client


def item_lines(worker: WorkerProc, job_id: str) -> list[dict[str, Any]]:
    """The worker's `job_item_done` log events of one job."""
    events = []
    for line in worker.log_text().splitlines():
        if '"job_item_done"' in line and job_id in line:
            events.append(json.loads(line))
    return events


def clear_faults(vendor_url: str) -> None:
    """Drop a fake vendor's pending fault."""
    httpx.delete(f"{vendor_url}/_sandbox/faults").raise_for_status()
