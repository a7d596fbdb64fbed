"""Queue workers: `bg-gateway worker` processes and `[jobs] workers_in_process` inside `serve`.

A worker is a SAQ `Worker` running two functions: `process_item` (one item; it touches its SAQ
job while it runs, so a worker that dies is noticed within `heartbeat_s` and its item swept back
to the queue) and `deliver_webhook`. Each worker process builds its own `Runtime`, so items go
through the same removal flow, providers, limits and ledger as the synchronous routes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog
from redis.exceptions import RedisError
from saq import Job, Worker

from gateway.jobs.core import Jobs
from gateway.jobs.webhooks import deliver
from gateway.runtime import Runtime
from gateway.settings import Settings

log = structlog.get_logger("gateway.jobs")
Context = dict[str, Any]
"""SAQ's per-job context: `job` (the SAQ job), `worker`, and our `jobs`."""


@contextlib.asynccontextmanager
async def _touching(job: Job, every_s: float) -> AsyncIterator[None]:
    """Touch `job` every `every_s` while the block runs (the heartbeat SAQ's sweep checks)."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await job.update()
            except (OSError, RedisError) as exc:  # a missed beat is retried; enough of them sweep
                log.warning("job_heartbeat_failed", job=job.key, error=type(exc).__name__)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def process_item(ctx: Context, *, job_id: str, index: int) -> None:
    """SAQ function: run one item of a job."""
    jobs: Jobs = ctx["jobs"]
    saq_job: Job = ctx["job"]
    async with _touching(saq_job, max(0.5, jobs.settings.jobs.heartbeat_s / 3)):
        await jobs.process_item(job_id, index, last_try=saq_job.attempts >= saq_job.retries)


async def deliver_webhook(ctx: Context, *, job_id: str) -> None:
    """SAQ function: POST a finished job's status document to its webhook (raises to retry)."""
    jobs: Jobs = ctx["jobs"]
    meta = await jobs.records.meta(job_id)
    if meta is None or not meta.webhook_url:
        return
    view = await jobs.records.view(meta)
    if view is None:
        return
    runtime, settings = jobs.runtime, jobs.settings
    assert runtime.client is not None
    status = await deliver(runtime.client, meta.webhook_url, msgspec.json.encode(view),
                           settings.jobs.webhook_secret, settings.fetch,
                           settings.jobs.webhook_timeout_s)
    log.info("webhook_delivered", job=job_id, status=status)


def build_worker(jobs: Jobs, concurrency: int, *, signals: bool) -> Worker:
    """A SAQ worker over the jobs queue with our functions and context."""
    settings = jobs.settings.jobs
    worker_class = Worker if signals else _QuietWorker
    worker: Worker = worker_class(
        jobs.queue, [process_item, deliver_webhook], concurrency=concurrency,
        # Upkeep loops sleep a whole timer before they see a stop: keep them short.
        timers={"sweep": settings.sweep_s, "abort": 1, "schedule": 1,
                "worker_info": min(10, 2 * settings.sweep_s)},
        shutdown_grace_period_s=int(jobs.settings.server.shutdown_grace_s),
        dequeue_timeout=1.0,  # a blocked dequeue would hold the shutdown for the whole grace
    )
    worker.context["jobs"] = jobs
    return worker


class _QuietWorker(Worker):
    """A worker inside `serve`: uvicorn owns the signals."""

    SIGNALS = []  # noqa: RUF012 - SAQ reads this class attribute


def start_in_process(jobs: Jobs, count: int) -> None:
    """Run `count` workers in this process (stopped by `Jobs.stop`)."""
    for _ in range(count):
        worker = build_worker(jobs, jobs.settings.jobs.worker_concurrency, signals=False)
        jobs.run_in_background(worker.stop, asyncio.create_task(worker.start()))


async def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    """`bg-gateway worker`: one runtime, one SAQ worker, until SIGINT/SIGTERM."""
    runtime = Runtime(settings)
    await runtime.start()
    jobs = Jobs(settings, runtime)
    try:
        await jobs.start(gauges=False)
        port = settings.jobs.worker_metrics_port
        if port:
            from prometheus_client import start_http_server

            start_http_server(port, addr=settings.server.host, registry=runtime.metrics.registry)
        jobs.sweep_store_periodically()
        worker = build_worker(jobs, concurrency or settings.jobs.worker_concurrency,
                              signals=True)
        log.info("worker_started", queue=jobs.queue.name, concurrency=worker.concurrency,
                 providers=sorted(runtime.providers))
        await worker.start()
    finally:
        await jobs.stop()
        await runtime.stop()
