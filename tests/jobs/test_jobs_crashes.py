"""Items that ran more than once, through a real gateway and real worker processes: an item whose
workers keep dying ends `failed` and ends its job; an item that ran again is charged once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from sandbox.server import SandboxUrls
from tests.integration.kit import REDIS_URL, product_jpeg, set_fault, write_config
from tests.integration.procs import gateway_processes
from tests.jobs.conftest import (
    Received,
    WorkerProc,
    clear_faults,
    jobs_config,
    owner,
    start_worker,
    wait_finished,
)

CRASH_RETRIES = 2
IMAGE = product_jpeg(seed=11, size=48)


@dataclass
class CrashStack:
    """A gateway without workers: each test starts (and kills) its own."""

    base: str
    config: Path
    tmp: Path
    prefix: str
    urls: SandboxUrls


@pytest.fixture(scope="module")
def crash_stack(tmp_path_factory: pytest.TempPathFactory, vendors: SandboxUrls,
                jobs_prefix: str) -> Iterator[CrashStack]:
    """One gateway; `crash_retries = 2`; the owner has a monthly quota."""
    tmp = tmp_path_factory.mktemp("crashes")
    data = jobs_config(tmp, vendors, jobs_prefix, crash_retries=CRASH_RETRIES)
    data["clients"]["owner"]["monthly_quota"] = 1000
    config = write_config(tmp / "gateway.toml", data)
    with gateway_processes([config], tmp) as (gateway,):
        yield CrashStack(gateway.base, config, tmp, jobs_prefix, vendors)


@pytest.fixture
def workers(crash_stack: CrashStack) -> Iterator[list[WorkerProc]]:
    """The workers a test starts; all stopped after it."""
    started: list[WorkerProc] = []
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


def _start(stack: CrashStack, workers: list[WorkerProc]) -> WorkerProc:
    worker = start_worker(stack.config, stack.tmp, str(len(workers)))
    workers.append(worker)
    return worker


def _post(http: httpx.Client, base: str, options: dict[str, object],
          webhook: str | None = None) -> str:
    import base64

    body: dict[str, object] = {"items": [{"image_base64": base64.b64encode(IMAGE).decode()}],
                               "options": options}
    if webhook:
        body["webhook_url"] = webhook
    answer = http.post(f"{base}/v1/jobs", json=body, headers=owner())
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["id"]
    return job_id


def _saq_job(stack: CrashStack, job_id: str) -> dict[str, Any]:
    """The SAQ job of item 0 as SAQ stores it."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        raw = client.get(f"saq:job:{stack.prefix}jobs:{job_id}:0")
    finally:
        client.close()
    assert raw is not None
    job: dict[str, Any] = json.loads(raw)
    return job


def _wait_saq(stack: CrashStack, job_id: str, what: str, done: Any,
              timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while not done(job := _saq_job(stack, job_id)):
        assert time.monotonic() < deadline, f"SAQ job never {what}: {job}"
        time.sleep(0.02)
    return job


def test_item_whose_workers_keep_dying_fails_and_ends_the_job(
    crash_stack: CrashStack, workers: list[WorkerProc], http: httpx.Client,
    receiver: tuple[str, Received],
) -> None:
    """Its worker SIGKILLed on every run (1 + crash_retries): the item ends `failed` with
    `internal_error`, the job ends `done` and its webhook is delivered."""
    hook, received = receiver
    stack = crash_stack
    set_fault(stack.urls.backgrounderase, delay_s=60, count=50)
    try:
        job_id = _post(http, stack.base, {"provider": "backgrounderase"}, hook)
        for run in range(1, CRASH_RETRIES + 2):
            worker = _start(stack, workers)
            _wait_saq(stack, job_id, f"ran {run} times", lambda job, run=run: (
                job.get("attempts"), job.get("status")) == (run, "active"))
            worker.kill()
        _start(stack, workers)  # its sweep finds the item with no run left
        status = wait_finished(http, stack.base, job_id, timeout_s=30)
    finally:
        clear_faults(stack.urls.backgrounderase)
    assert (status["status"], status["done"], status["failed"]) == ("done", 1, 1)
    assert status["finished_at"]
    item = status["items"][0]
    assert item["status"] == "failed"
    assert item["error"]["code"] == "internal_error" and item["error"]["status"] == 500
    assert item["error"]["detail"] == "the item's worker stopped 3 times before it finished"
    saq = _saq_job(stack, job_id)
    assert (saq.get("status"), saq.get("attempts")) == ("aborted", CRASH_RETRIES + 1)

    deadline = time.monotonic() + 15
    while not (mine := [json.loads(body) for _, body in received.calls
                        if json.loads(body)["id"] == job_id]):
        assert time.monotonic() < deadline, "the job's webhook was never delivered"
        time.sleep(0.1)
    assert (mine[0]["status"], mine[0]["failed"]) == ("done", 1)


def _quota_used(prefix: str) -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}quota:owner:*"))
        return sum(int(client.get(key) or 0) for key in keys)
    finally:
        client.close()


def test_item_that_ran_again_is_charged_once(
    crash_stack: CrashStack, workers: list[WorkerProc], http: httpx.Client
) -> None:
    """The first run is accounted, then fails writing its result; the item runs again and
    succeeds: the owner's quota and the ledger count it once."""
    stack = crash_stack
    before = _quota_used(stack.prefix)
    since = time.time() - 1
    job_id = _post(http, stack.base, {"provider": "withoutbg"})
    # A file where the result directory goes: the run fails after the removal was accounted.
    blocker = stack.tmp / "results" / job_id / "out"
    blocker.write_bytes(b"")
    _start(stack, workers)
    _wait_saq(stack, job_id, "failed its first run", lambda job: job.get("error"))
    blocker.unlink()
    status = wait_finished(http, stack.base, job_id, timeout_s=30)
    assert (status["status"], status["succeeded"]) == ("done", 1)
    assert _saq_job(stack, job_id).get("attempts", 0) >= 2, "the item ran again"
    assert _quota_used(stack.prefix) - before == 1
    rows = http.get(f"{stack.base}/v1/usage", params={"from": str(since)},
                    headers=owner()).json()["usage"]
    assert sum(row["images"] for row in rows if row["provider"] == "withoutbg") == 1


async def test_reconcile_ends_what_the_give_up_hook_missed(tmp_path: Path,
                                                           redis_prefix: str) -> None:
    """The periodic reconcile fails an open item whose SAQ job already failed, and hands SAQ's
    orphans (`aborting` in no list: their sweeper died) to SAQ's own end or retry."""
    from saq.job import Status
    from saq.utils import now

    from gateway.jobs import Jobs
    from gateway.jobs.model import ItemRecord, JobMeta
    from gateway.jobs.queue import enqueue_items
    from gateway.runtime import Runtime
    from gateway.settings import parse_settings
    from tests.conftest import TEST_REDIS_URL
    from tests.fakes import FakeProvider

    settings = parse_settings({
        "providers": {"fake": {"type": "local"}}, "cache": {"enabled": False},
        "ledger": {"path": str(tmp_path / "usage.sqlite3")},
        "state": {"backend": "redis", "redis_url": TEST_REDIS_URL, "key_prefix": redis_prefix},
        "jobs": {"result_path": str(tmp_path / "r"), "heartbeat_s": 2,
                 "crash_retries": CRASH_RETRIES},
    })
    runtime = Runtime(settings, providers={"fake": FakeProvider("fake")})
    await runtime.start()
    jobs = Jobs(settings, runtime)
    try:
        await jobs.start(gauges=False)
        queue, records = jobs.queue, jobs.records
        meta = JobMeta(id="b" * 32, owner="anonymous", total=3, options=(), created_at=1.0)
        await records.create(meta, [ItemRecord()] * 3)
        await enqueue_items(queue, settings, meta.id, 3)
        long_ago = now() - 3_600_000
        for index, (status, attempts) in enumerate([
            (Status.FAILED, 1),  # its hook never ran (Redis away at that moment)
            (Status.ABORTING, CRASH_RETRIES + 1),  # orphaned with no run left: ends it
            (Status.ABORTING, 1),  # orphaned with runs left: SAQ retries it
        ]):
            saq_job = await queue.job(f"{meta.id}:{index}")
            assert saq_job is not None
            await records.start_item(meta.id, index, ItemRecord(status="running"))
            saq_job.status, saq_job.attempts, saq_job.touched = status, attempts, long_ago
            await queue.redis.lrem(queue.namespace("queued"), 0, saq_job.id)
            await queue.redis.set(saq_job.id, queue.serialize(saq_job))

        assert await jobs.reconcile() == 3
        items = await records.items(meta.id)
        retried = await queue.job(f"{meta.id}:2")
        counts = await records.counts(meta.id)
    finally:
        await jobs.stop()
        await runtime.stop()
    assert [items[i].status for i in range(3)] == ["failed", "failed", "running"]
    assert [items[i].error.detail for i in range(2)] == [  # type: ignore[union-attr]
        "the gateway failed on this item; it ran once",
        "the item's worker stopped 3 times before it finished",
    ]
    assert retried is not None and retried.status == Status.QUEUED
    assert counts is not None and (counts.failed, counts.done) == (2, 2)
