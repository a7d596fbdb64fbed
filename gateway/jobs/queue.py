"""The SAQ queue the items go through (Redis lists: queued -> active, swept when stuck).

One SAQ job per item, keyed `{job_id}:{index}` (SAQ refuses a second job with a live key). A
worker holds an item in SAQ's `active` list and touches it every `heartbeat_s / 3`; a worker that
died stops touching, and the next sweep (every `sweep_s`, any worker) puts the item back.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from saq import Queue
from saq.queue.redis import RedisQueue

from gateway.settings import Settings

ITEM_FUNCTION = "process_item"
WEBHOOK_FUNCTION = "deliver_webhook"
_ENQUEUE_BATCH = 200


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

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        """SAQ's sweep with the shorter wait per stuck item."""
        return await super().sweep(lock, min(abort, self.abort_wait_s))


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
                timeout=timeout, heartbeat=jobs.heartbeat_s, retries=jobs.crash_retries,
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
