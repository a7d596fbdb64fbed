"""`Jobs`: what the jobs API and the workers share (records, store, queue), and one item's run.

An item runs: marked running (unless it already finished: at-least-once delivery), its input
read, `flow.run_with_retries` (the removal flow), the result written to the store under the
item's own key, then the outcome recorded once. The job's last item queues its webhook.

An item SAQ gives up on (its worker died more than `crash_retries` times, or its last run failed
outside the flow) is failed by `item_given_up`, called from `JobsQueue.finish`; `reconcile`, run
with the store sweep, catches what that missed. Recording an outcome is one atomic script that
refuses a second one, so whichever process gets there first finalizes the item, and only it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import redis.asyncio as aioredis
import structlog
from litestar import Litestar
from saq import Job
from saq.job import Status
from saq.utils import now as now_ms

from gateway.api.options import OPTION_KEYS, parse_options
from gateway.auth import Client
from gateway.errors import GatewayError, MissingImage
from gateway.jobs.flow import RetryPolicy, item_request_id, run_with_retries
from gateway.jobs.model import TERMINAL, ItemError, ItemRecord, ItemResult, JobMeta
from gateway.jobs.queue import ITEM_FUNCTION, JobsQueue, enqueue_webhook, open_queue, queue_depth
from gateway.jobs.records import JobRecords
from gateway.jobs.store import ResultStore, input_key, open_store, result_key
from gateway.runtime import Runtime
from gateway.service import Served
from gateway.settings import Settings

log = structlog.get_logger("gateway.jobs")
_GAUGE_EVERY_S = 5.0
_SWEEP_STORE_EVERY_S = 600.0


class Jobs:
    """Built with the runtime; `start` connects (only with `[state] backend = "redis"`)."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        """Nothing connects before `start`."""
        self.settings = settings
        self.runtime = runtime
        self.available = settings.state.backend == "redis"
        self._records: JobRecords | None = None
        self._store: ResultStore | None = None
        self._queue: JobsQueue | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stops: list[Callable[[], Awaitable[None]]] = []

    @property
    def records(self) -> JobRecords:
        """Job and item records (available once started)."""
        assert self._records is not None, "jobs not started"
        return self._records

    @property
    def store(self) -> ResultStore:
        """Inputs and results (available once started)."""
        assert self._store is not None, "jobs not started"
        return self._store

    @property
    def queue(self) -> JobsQueue:
        """The SAQ queue (available once started)."""
        assert self._queue is not None, "jobs not started"
        return self._queue

    async def start(self, *, gauges: bool = True) -> None:
        """Connect the records, the store and the queue; account each item once; end given-up
        items."""
        if not self.available:
            return
        state = self.settings.state
        self._records = JobRecords(aioredis.Redis.from_url(state.redis_url), state.key_prefix,
                                   self.settings.jobs.result_ttl_s)
        self._store = open_store(self.settings.jobs)
        self._queue = open_queue(self.settings)
        await self._queue.connect()
        self._queue.on_given_up = self.item_given_up
        # The one hook into the flow's accounting: an item that ran twice is recorded and
        # charged once (`RemovalCall.account_once`).
        self.runtime.service.claim_once = self._records.claim_charge
        if gauges:
            self._tasks.append(asyncio.create_task(self._watch_queue()))

    def run_in_background(self, stop: Callable[[], Awaitable[None]],
                          task: asyncio.Task[None]) -> None:
        """Own a worker task: `stop` ends it at shutdown."""
        self._stops.append(stop)
        self._tasks.append(task)

    def sweep_store_periodically(self) -> None:
        """Delete results older than the TTL and `reconcile`, now and every 10 minutes."""
        self._tasks.append(asyncio.create_task(self._sweep_store()))

    async def stop(self) -> None:
        """Stop the workers (their running items go back to the queue), then disconnect."""
        for stop in self._stops:
            await stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._queue is not None:
            await self._queue.disconnect()
        if self._records is not None:
            await self._records.aclose()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        """Litestar lifespan hook (after the runtime's)."""
        await self.start()
        if self.available and self.settings.jobs.workers_in_process:
            from gateway.jobs.worker import start_in_process

            start_in_process(self, self.settings.jobs.workers_in_process)
            self.sweep_store_periodically()
        try:
            yield
        finally:
            await self.stop()

    def client_of(self, owner: str) -> Client | None:
        """The job owner's client (its quota, allow-list and ledger name)."""
        settings = self.settings.clients.get(owner)
        return Client(owner, settings) if settings is not None else None

    async def process_item(
        self, job_id: str, index: int, last_try: bool = True
    ) -> None:
        """Run one item unless it already finished; record its outcome once."""
        records = self.records
        meta, item = await records.meta(job_id), await records.item(job_id, index)
        if meta is None or item is None:
            return
        started = time.time()
        running = msgspec.structs.replace(item, status="running", started_at=started)
        if not await records.start_item(job_id, index, running):
            return
        try:
            record = await self._run(meta, index, running)
        except Exception as exc:
            if not last_try:
                raise
            log.error("job_item_crashed", job=job_id, index=index, error=type(exc).__name__)
            failure = GatewayError("the gateway failed on this item; it was tried several times")
            record = _failed(running, failure)
        await self._record(meta, index, record, started)

    async def _record(self, meta: JobMeta, index: int, record: ItemRecord,
                      started: float) -> None:
        """Record an item's outcome unless one was recorded before; the last one ends the job."""
        outcome = await self.records.finish_item(meta.id, index, record)
        if outcome < 0:
            return
        self.runtime.metrics.observe_job_item(record.status, time.time() - started)
        log.info("job_item_done", job=meta.id, index=index, status=record.status,
                 provider=record.result.provider if record.result else None,
                 error=record.error.code if record.error else None)
        if record.status == "succeeded" and record.url is None:
            await self.store.delete(input_key(meta.id, index))
        if outcome == 1:
            await self.job_finished(meta)

    async def item_given_up(self, saq_job: Job, status: Status, error: str | None) -> None:
        """SAQ will not run this item again: fail it, unless it already finished."""
        kwargs = saq_job.kwargs or {}
        job_id, index = str(kwargs["job_id"]), int(kwargs["index"])
        meta, item = await self.records.meta(job_id), await self.records.item(job_id, index)
        if meta is None or item is None or item.status in TERMINAL:
            return
        detail = _given_up_detail(saq_job, status, error)
        log.warning("job_item_given_up", job=job_id, index=index, runs=saq_job.attempts,
                    saq_status=status.value)
        record = _failed(item, GatewayError(detail))
        await self._record(meta, index, record, item.started_at or time.time())

    async def reconcile(self) -> int:
        """Fail items SAQ gave up on that are still open here (`item_given_up` missed them).

        Also ends what a sweeper killed mid-sweep left behind: SAQ's job `aborting`, in no
        list, that nothing would touch again; it gets SAQ's own retry, or its end (and so
        `item_given_up`). One process at a time; returns how many items it ended or retried.
        """
        if not await self.records.claim_lock("reconcile", int(_SWEEP_STORE_EVERY_S / 2)):
            return 0
        queue, handled = self.queue, 0
        orphaned_ms = 1000 * (self.settings.jobs.heartbeat_s + _SWEEP_STORE_EVERY_S)
        statuses = [Status.ABORTED, Status.FAILED, Status.ABORTING]
        async for saq_job in queue.iter_jobs(statuses):
            if saq_job.function != ITEM_FUNCTION:
                continue
            if saq_job.status != Status.ABORTING:
                kwargs = saq_job.kwargs or {}
                item = await self.records.item(str(kwargs["job_id"]), int(kwargs["index"]))
                if item is not None and item.status not in TERMINAL:
                    await self.item_given_up(saq_job, saq_job.status, saq_job.error)
                    handled += 1
            elif saq_job.touched < now_ms() - orphaned_ms and not await queue.is_active(saq_job):
                if saq_job.retryable:
                    await queue.retry(saq_job, error=queue.swept_error_message)
                else:
                    await queue.finish(saq_job, Status.ABORTED, error=queue.swept_error_message)
                handled += 1
        return handled

    async def _run(self, meta: JobMeta, index: int, item: ItemRecord) -> ItemRecord:
        runtime = self.runtime
        try:
            image = (await self.store.get(input_key(meta.id, index)) if item.url is None
                     else await runtime.fetch_url(item.url))
            if image is None:
                raise MissingImage("the item's input is no longer stored (past its TTL?)")
            options = parse_options(meta.options, OPTION_KEYS,
                                    routing_key_field=self.settings.routing.routing_key_field)
            request_id = item_request_id(meta.id, index)
            served = await run_with_retries(
                runtime, image, options, self.client_of(meta.owner), request_id,
                RetryPolicy.of(self.settings.jobs),
                on_wait=lambda delay: log.info("job_item_waiting", job=meta.id, index=index,
                                               delay_s=round(delay, 2)),
                paid=await self.records.charged(request_id),
            )
        except GatewayError as exc:
            return _failed(item, exc)
        await self.store.put(result_key(meta.id, index), served.removal.image.data)
        return msgspec.structs.replace(item, status="succeeded",
                                       result=_result(served, request_id),
                                       finished_at=time.time())

    async def job_finished(self, meta: JobMeta) -> None:
        """The job's last item finished: queue its webhook."""
        log.info("job_finished", job=meta.id, total=meta.total)
        if meta.webhook_url:
            await enqueue_webhook(self.queue, self.settings, meta.id)

    async def _watch_queue(self) -> None:
        while True:
            try:
                for state, count in (await queue_depth(self.queue)).items():
                    self.runtime.metrics.set_job_queue(state, count)
            except (OSError, aioredis.RedisError):
                pass  # Redis away: the gauges keep their last values
            await asyncio.sleep(_GAUGE_EVERY_S)

    async def _sweep_store(self) -> None:
        while True:
            try:
                removed = await self.store.sweep(self.settings.jobs.result_ttl_s)
                if removed:
                    log.info("job_results_expired", jobs=removed)
            except Exception as exc:  # the store's own errors vary (OSError, botocore)
                log.warning("job_store_sweep_failed", error=type(exc).__name__)
            try:
                if handled := await self.reconcile():
                    log.info("job_items_reconciled", items=handled)
            except (OSError, aioredis.RedisError, ValueError) as exc:  # ValueError: SAQ decoding
                log.warning("job_reconcile_failed", error=type(exc).__name__)
            await asyncio.sleep(_SWEEP_STORE_EVERY_S)


def _failed(item: ItemRecord, exc: GatewayError) -> ItemRecord:
    return msgspec.structs.replace(item, status="failed", error=ItemError.of(exc),
                                   finished_at=time.time())


def _given_up_detail(saq_job: Job, status: Status, error: str | None) -> str:
    """Why SAQ gave the item up, in words a client can act on (no trace, no internals)."""
    runs = "once" if saq_job.attempts == 1 else f"{saq_job.attempts} times"
    if status == Status.ABORTED:
        return f"the item's worker stopped {runs} before it finished"
    if error and "TimeoutError" in error:
        return f"the item did not finish within its time limit of {saq_job.timeout} s"
    return f"the gateway failed on this item; it ran {runs}"


def _result(served: Served, request_id: str) -> ItemResult:
    removal = served.removal
    image = removal.image
    return ItemResult(
        media_type=image.media_type, width=image.width, height=image.height,
        provider=removal.provider, attempts=removal.attempts, emulated=image.emulated,
        cost=0.0 if served.cache_hit else removal.cost, provider_ms=removal.provider_ms,
        postprocess_ms=removal.postprocess_ms, total_ms=removal.total_ms,
        request_id=request_id, cache_hit=served.cache_hit, foreground=image.foreground,
    )
