"""Job and item records in Redis; every state change is one atomic script.

Keys (under `[state] key_prefix`): `job:{id}` a hash (meta, status, counters), `job:{id}:items`
a hash (index -> ItemRecord JSON), `job-charged:{request_id}` the once-only accounting marks,
`jobs-lock:{name}` who runs a periodic task. An item reaches a terminal state once: a second
worker finishing the same item (at-least-once delivery) changes nothing, so counters, the webhook
and the result are written once.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import redis.asyncio as aioredis

from gateway.jobs.model import (
    ItemErrorView,
    ItemRecord,
    ItemView,
    JobCounts,
    JobMeta,
    JobView,
)

# KEYS: job, items. ARGV: index, record, counter field, now, ttl. Returns 1 when the job finished,
# 0 when the item was finished now, -1 when it had finished before.
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then
  local st = cjson.decode(cur)['status']
  if st == 'succeeded' or st == 'failed' or st == 'cancelled' then return -1 end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
local done = redis.call('HINCRBY', KEYS[1], 'done', 1)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
if done >= tonumber(redis.call('HGET', KEYS[1], 'total')) then
  local final = 'done'
  if redis.call('HGET', KEYS[1], 'cancel_requested') == '1' then final = 'cancelled' end
  redis.call('HSET', KEYS[1], 'status', final, 'finished_at', ARGV[4])
  return 1
end
return 0
"""

# KEYS: job, items. ARGV: index, record. Returns 1 when the item may run (not terminal).
_START = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then
  local st = cjson.decode(cur)['status']
  if st == 'succeeded' or st == 'failed' or st == 'cancelled' then return 0 end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if redis.call('HGET', KEYS[1], 'status') == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'running')
end
return 1
"""

# KEYS: job, items. ARGV: now, record of a cancelled item. Cancels every queued item.
# Returns 1 when the job finished now, 0 when items are still running, -1 when it had finished.
_CANCEL = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status == 'done' or status == 'cancelled' then return -1 end
redis.call('HSET', KEYS[1], 'cancel_requested', '1')
local all = redis.call('HGETALL', KEYS[2])
local n = 0
for i = 1, #all, 2 do
  if (cjson.decode(all[i + 1])['status'] or 'queued') == 'queued' then
    redis.call('HSET', KEYS[2], all[i], ARGV[2])
    n = n + 1
  end
end
redis.call('HINCRBY', KEYS[1], 'cancelled', n)
local done = redis.call('HINCRBY', KEYS[1], 'done', n)
if done >= tonumber(redis.call('HGET', KEYS[1], 'total')) then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[1])
  return 1
end
return 0
"""

_COUNTER = {"succeeded": "succeeded", "failed": "failed", "cancelled": "cancelled"}


def iso(moment: float) -> str:
    """Unix seconds as ISO 8601 UTC."""
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


class JobRecords:
    """Jobs and items in Redis under one key prefix, kept `ttl_s` after their last change."""

    def __init__(self, client: aioredis.Redis, key_prefix: str, ttl_s: int) -> None:
        """Use `client` (owned: closed by `aclose`)."""
        self._redis = client
        self._prefix = key_prefix
        self._ttl = ttl_s
        self._finish = client.register_script(_FINISH)
        self._start = client.register_script(_START)
        self._cancel = client.register_script(_CANCEL)
        self._meta = msgspec.json.Decoder(JobMeta)
        self._item = msgspec.json.Decoder(ItemRecord)

    def _keys(self, job_id: str) -> list[str]:
        return [f"{self._prefix}job:{job_id}", f"{self._prefix}job:{job_id}:items"]

    async def create(self, meta: JobMeta, items: list[ItemRecord]) -> None:
        """Store a new job and its items (queued)."""
        job_key, items_key = self._keys(meta.id)
        fields = {"meta": msgspec.json.encode(meta), "status": "queued", "total": meta.total,
                  "done": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(job_key, mapping=fields)  # type: ignore[arg-type]
            pipe.hset(items_key, mapping={str(i): msgspec.json.encode(item)
                                          for i, item in enumerate(items)})
            pipe.expire(job_key, self._ttl)
            pipe.expire(items_key, self._ttl)
            await pipe.execute()

    async def meta(self, job_id: str) -> JobMeta | None:
        """The job's meta record; None when unknown or expired."""
        raw = await self._redis.hget(self._keys(job_id)[0], "meta")
        return None if raw is None else self._meta.decode(raw)

    async def counts(self, job_id: str) -> JobCounts | None:
        """The job's status and counters."""
        raw = await self._redis.hgetall(self._keys(job_id)[0])
        if not raw:
            return None
        value = {k.decode(): v.decode() for k, v in raw.items() if k != b"meta"}
        finished = value.get("finished_at")
        return JobCounts(
            status=value["status"], done=int(value["done"]),  # type: ignore[arg-type]
            succeeded=int(value["succeeded"]), failed=int(value["failed"]),
            cancelled=int(value["cancelled"]), finished_at=float(finished) if finished else None,
        )

    async def item(self, job_id: str, index: int) -> ItemRecord | None:
        """One item's record."""
        raw = await self._redis.hget(self._keys(job_id)[1], str(index))
        return None if raw is None else self._item.decode(raw)

    async def items(self, job_id: str) -> dict[int, ItemRecord]:
        """Every item's record by index."""
        raw = await self._redis.hgetall(self._keys(job_id)[1])
        return {int(k): self._item.decode(v) for k, v in raw.items()}

    async def start_item(self, job_id: str, index: int, record: ItemRecord) -> bool:
        """Mark the item running; False when it already finished (or the job expired)."""
        started = await self._start(keys=self._keys(job_id),
                                    args=[index, msgspec.json.encode(record)])
        return bool(started)

    async def finish_item(self, job_id: str, index: int, record: ItemRecord) -> int:
        """Record the item's outcome once: 1 job finished, 0 item finished, -1 finished before."""
        return int(await self._finish(
            keys=self._keys(job_id),
            args=[index, msgspec.json.encode(record), _COUNTER[record.status],
                  repr(record.finished_at or 0.0), self._ttl],
        ))

    async def cancel(self, job_id: str, now: float) -> int:
        """Cancel the queued items: 1 job finished now, 0 items still running, -1 had finished."""
        cancelled = msgspec.json.encode(ItemRecord(status="cancelled", finished_at=now))
        return int(await self._cancel(keys=self._keys(job_id), args=[repr(now), cancelled]))

    async def claim_charge(self, request_id: str) -> bool:
        """True the first time `request_id` is accounted (ledger and quota: once per item)."""
        key = f"{self._prefix}job-charged:{request_id}"
        return bool(await self._redis.set(key, b"1", nx=True, ex=self._ttl))

    async def charged(self, request_id: str) -> bool:
        """Was `request_id` accounted already (a job item running again)?"""
        return bool(await self._redis.exists(f"{self._prefix}job-charged:{request_id}"))

    async def claim_lock(self, name: str, ttl_s: int) -> bool:
        """True when this process may do the periodic task `name` for the next `ttl_s`."""
        key = f"{self._prefix}jobs-lock:{name}"
        return bool(await self._redis.set(key, b"1", nx=True, ex=ttl_s))

    async def view(self, meta: JobMeta) -> JobView | None:
        """The public status document of the job."""
        counts = await self.counts(meta.id)
        if counts is None:
            return None
        items = await self.items(meta.id)
        return JobView(
            id=meta.id, status=counts.status, total=meta.total, done=counts.done,
            succeeded=counts.succeeded, failed=counts.failed, cancelled=counts.cancelled,
            items=[item_view(meta.id, index, items[index]) for index in sorted(items)],
            created_at=iso(meta.created_at),
            finished_at=iso(counts.finished_at) if counts.finished_at else None,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def item_view(job_id: str, index: int, record: ItemRecord) -> ItemView:
    """One item as the status document shows it."""
    result, error = record.result, record.error
    return ItemView(
        index=index, status=record.status,
        provider=result.provider if result else None,
        cost=result.cost if result else None,
        error=ItemErrorView(error.code, error.status, error.detail) if error else None,
        result_url=f"/v1/jobs/{job_id}/items/{index}" if record.status == "succeeded" else None,
    )
