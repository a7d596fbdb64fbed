"""The SAQ queue the items go through (Redis lists: queued -> active, swept when stuck).

One SAQ job per item, keyed `{job_id}:{index}` (SAQ refuses a second job with a live key). A
worker holds an item in SAQ's `active` list and touches it every `heartbeat_s / 3`; a worker that
died stops touching, and the next sweep (every `sweep_s`, any worker) puts the item back, at most
`crash_retries` times. When SAQ gives an item up (aborted by the sweep with no retry left, or
failed on its last run), `JobsQueue.finish` tells `on_given_up` first, so our records end it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import structlog
from saq import Job, Queue
from saq.job import UNSUCCESSFUL_TERMINAL_STATUSES, Status
from saq.queue.redis import RedisQueue

from gateway.settings import Settings

ITEM_FUNCTION = "process_item"
WEBHOOK_FUNCTION = "deliver_webhook"
_ENQUEUE_BATCH = 200
log = structlog.get_logger("gateway.jobs")
GivenUp = Callable[[Job, Status, str | None], Awaitable[None]]
"""Called with an item's SAQ job, final status and error when SAQ will not run it again."""


class JobsQueue(RedisQueue):
    """SAQ's Redis queue, with the sweep's wait per stuck item tied to the heartbeat.

    SAQ sweeps stuck items one after another and waits up to 5 s for each to abort (time for a
    live but slow worker to let go). A missed heartbeat already says the worker is gone, so
    waiting longer than half a heartbeat only delays the retry of every item it held.
    """

    def __init__(self, redis: aioredis.Redis, name: str, abort_wait_s: float) -> None:
        """A queue `name` on `redis`."""
        super().__init__(redis, name=name)
        self.abort_wait_s = abort_wait_s
        self.on_given_up: GivenUp | None = None

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        """SAQ's sweep with the shorter wait per stuck item."""
        return await super().sweep(lock, min(abort, self.abort_wait_s))

    async def finish(self, job: Job, status: Status, *, result: Any = None,
                     error: str | None = None, **kwargs: Any) -> None:
        """SAQ's finish; an item ending aborted or failed is reported to `on_given_up` first.

        SAQ has no hook for "no retry left". Every final state goes through here, whichever
        process ends the job (the sweeper of a dead worker's item, or the worker that ran it).
        Reported before SAQ's own write: a process killed in between leaves our record right.
        """
        if (status in UNSUCCESSFUL_TERMINAL_STATUSES and job.function == ITEM_FUNCTION
                and self.on_given_up is not None):
            try:
                await self.on_given_up(job, status, error)
            except Exception as exc:  # SAQ must still end its job; the reconciler retries ours
                log.warning("job_item_give_up_failed", job=job.key, error=type(exc).__name__)
        await super().finish(job, status, result=result, error=error, **kwargs)

    async def is_active(self, job: Job) -> bool:
        """Is `job` in SAQ's `active` list (held by a worker, or due for the next sweep)?"""
        return await self.redis.lpos(self._active, job.id) is not None


def open_queue(settings: Settings) -> JobsQueue:
    """The jobs queue on the `[state]` Redis, named under its key prefix."""
    name = f"{settings.state.key_prefix}{settings.jobs.queue_name}"
    return JobsQueue(aioredis.Redis.from_url(settings.state.redis_url), name,
                     abort_wait_s=max(0.5, settings.jobs.heartbeat_s / 2))


def item_timeout_s(settings: Settings) -> int:
    """The longest an item may run: its waits for headroom plus every attempt."""
    jobs = settings.jobs
    per_try = settings.routing.request_timeout_s + jobs.retry_delay_s * 2 ** jobs.item_attempts
    return int(jobs.max_wait_s + jobs.item_attempts * per_try + 60)


async def enqueue_items(queue: Queue, settings: Settings, job_id: str, total: int) -> None:
    """Put every item of a job on the queue."""
    jobs = settings.jobs
    timeout = item_timeout_s(settings)
    for start in range(0, total, _ENQUEUE_BATCH):
        await asyncio.gather(*(
            queue.enqueue(
                ITEM_FUNCTION, key=f"{job_id}:{index}", job_id=job_id, index=index,
                # SAQ's `retries` counts runs: the first one plus `crash_retries` more.
                timeout=timeout, heartbeat=jobs.heartbeat_s, retries=jobs.crash_retries + 1,
                retry_delay=1.0, ttl=jobs.result_ttl_s,
            )
            for index in range(start, min(total, start + _ENQUEUE_BATCH))
        ))


async def enqueue_webhook(queue: Queue, settings: Settings, job_id: str) -> None:
    """Queue the delivery of a finished job's webhook (retried with backoff by SAQ)."""
    jobs = settings.jobs
    await queue.enqueue(
        WEBHOOK_FUNCTION, key=f"{job_id}:webhook", job_id=job_id,
        timeout=int(jobs.webhook_timeout_s) + 5, retries=jobs.webhook_attempts,
        retry_delay=1.0, retry_backoff=300.0, ttl=jobs.result_ttl_s,
    )


async def queue_depth(queue: Queue) -> dict[str, int]:
    """Items queued, active and scheduled (waiting for a retry)."""
    queued, active = await queue.count("queued"), await queue.count("active")
    incomplete = await queue.count("incomplete")
    return {"queued": queued, "active": active,
            "scheduled": max(0, incomplete - queued - active)}
