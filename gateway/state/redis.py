"""Redis state shared by every gateway instance; atomic operations only (Lua or single commands).

When Redis goes away while running, the backend logs one error and serves from an in-process
MemoryState until Redis answers again (tried at most every `retry_interval_s`, see
`gateway.state.guard`); then it logs the recovery and goes back to Redis. State written during the
outage stays local to the instance.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

from limits import RateLimitItem
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.util import WindowStats
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from gateway.state.base import Cooldown, HealthReads, SpendAdd
from gateway.state.guard import REDIS_ERRORS, RedisGuard
from gateway.state.memory import CIRCUIT_TTL_S, MemoryState

T = TypeVar("T")

# Set the cooldown only when it outlives the current one (PTTL is -2 when absent).
_EXTEND_COOLDOWN = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
end
return 1
"""
# Sliding-window failure count on the server's clock: trim, add, count.
_ADD_FAILURE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], window)
return redis.call('ZCARD', KEYS[1])
"""
# KEYS: circuit flag, trial claim, cooldown. ARGV: cooldown ms, flag ms.
_OPEN_CIRCUIT = """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[3], 'circuit_open', 'PX', ARGV[1])
end
return 1
"""
# Returned as a string: Lua numbers come back from Redis truncated to integers.
_EWMA = """
local old = redis.call('GET', KEYS[1])
local value = tonumber(ARGV[1])
if old then value = tonumber(ARGV[2]) * value + (1 - tonumber(ARGV[2])) * tonumber(old) end
redis.call('SET', KEYS[1], tostring(value), 'PX', ARGV[3])
return tostring(value)
"""
# INCRBY (ARGV[3] == '1') or INCRBYFLOAT; the TTL starts at the first increment only.
_ADD = """
local command = 'INCRBYFLOAT'
if ARGV[3] == '1' then command = 'INCRBY' end
local value = redis.call(command, KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return tostring(value)
"""
# A served request in one round trip: the latency EWMA (KEYS[1]; ARGV 1-3 as in _EWMA) and, when
# KEYS[2] is given, INCRBYFLOAT of the spend by ARGV[4] with a TTL of ARGV[5] ms from the first add.
_SERVED = """
local old = redis.call('GET', KEYS[1])
local value = tonumber(ARGV[1])
if old then value = tonumber(ARGV[2]) * value + (1 - tonumber(ARGV[2])) * tonumber(old) end
redis.call('SET', KEYS[1], tostring(value), 'PX', ARGV[3])
if KEYS[2] then
  redis.call('INCRBYFLOAT', KEYS[2], ARGV[4])
  if redis.call('PTTL', KEYS[2]) == -1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
end
return tostring(value)
"""
_LATENCY_TTL_MS = 7 * 24 * 3600 * 1000


def redacted_url(url: str) -> str:
    """`url` without user or password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _cooldowns(names: Sequence[str], replies: list[object]) -> dict[str, Cooldown]:
    """Active cooldowns from GET + PTTL replies, two per name."""
    found = {}
    for i, name in enumerate(names):
        reason, ttl = replies[2 * i], replies[2 * i + 1]
        if isinstance(reason, str) and isinstance(ttl, int) and ttl > 0:
            found[name] = Cooldown(remaining_s=ttl / 1000, reason=reason)
    return found


class RedisState:
    """StateBackend on redis.asyncio with an in-process fallback while Redis is lost."""

    def __init__(self, url: str, key_prefix: str, retry_interval_s: float = 2.0) -> None:
        self._url = url
        self._prefix = key_prefix
        self._retry_interval_s = retry_interval_s
        self._client: Redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
        )
        self._storage = RedisStorage(
            "async+" + url,
            implementation="redispy",
            key_prefix=f"{key_prefix}limits",
            connection_pool=self._client.connection_pool,
        )
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._fallback = MemoryState()
        self.guard = RedisGuard(
            "state", redacted_url(url), self._client.ping, retry_interval_s
        )
        register = self._client.register_script
        self._extend_cooldown = register(_EXTEND_COOLDOWN)
        self._add_failure = register(_ADD_FAILURE)
        self._open_circuit = register(_OPEN_CIRCUIT)
        self._ewma = register(_EWMA)
        self._incr = register(_ADD)
        self._served = register(_SERVED)

    @property
    def lost(self) -> bool:
        """True while Redis is unreachable and the in-process fallback serves."""
        return self.guard.lost

    @property
    def limits_storage(self) -> Storage:
        """The `limits` Redis storage (the fallback's memory storage while Redis is lost)."""
        return self._fallback.limits_storage if self.guard.lost else self._storage

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    async def _run(
        self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        """Run `remote` on Redis, or `local` on the fallback while Redis is lost."""
        return await self.guard.run(remote, local)

    async def ping(self) -> bool:
        """True when Redis answers right now (the fallback does not count)."""
        try:
            return bool(await self._client.ping())
        except REDIS_ERRORS:
            return False

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def set_cooldown(self, name: str, seconds: float, reason: str) -> None:
        """Cool `name` down (atomic extend-only SET)."""
        async def remote() -> None:
            await self._extend_cooldown(keys=[self._key("cooldown", name)],
                                        args=[_ms(seconds), reason])

        await self._run(remote, lambda: self._fallback.set_cooldown(name, seconds, reason))

    async def get_cooldowns(self, names: Sequence[str]) -> dict[str, Cooldown]:
        """Active cooldowns among `names`."""
        async def remote() -> dict[str, Cooldown]:
            async with self._client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.get(self._key("cooldown", name))
                    pipe.pttl(self._key("cooldown", name))
                return _cooldowns(names, await pipe.execute())

        return await self._run(remote, lambda: self._fallback.get_cooldowns(names))

    async def read_health(self, names: Sequence[str]) -> HealthReads:
        """Cooldowns, open circuits and latencies of `names` in one round trip."""
        async def remote() -> HealthReads:
            if not names:
                return HealthReads({}, set(), {})
            async with self._client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.get(self._key("cooldown", name))
                    pipe.pttl(self._key("cooldown", name))
                pipe.mget([self._key("circuit", n) for n in names])
                pipe.mget([self._key("latency", n) for n in names])
                replies = await pipe.execute()
            flags, latencies = replies[-2], replies[-1]
            return HealthReads(
                cooldowns=_cooldowns(names, replies[:-2]),
                open_circuits={n for n, flag in zip(names, flags, strict=True) if flag is not None},
                latencies={n: float(v) for n, v in zip(names, latencies, strict=True)
                           if v is not None},
            )

        return await self._run(remote, lambda: self._fallback.read_health(names))

    async def record_served(
        self, name: str, sample_ms: float, alpha: float, spend: SpendAdd | None
    ) -> None:
        """Latency EWMA and spend in one script (one round trip)."""
        async def remote() -> None:
            keys = [self._key("latency", name)]
            args: list[str | int] = [repr(float(sample_ms)), repr(alpha), _LATENCY_TTL_MS]
            if spend is not None:
                keys.append(self._key(f"spend:{spend.period}", name))
                args += [repr(float(spend.amount)), _ms(spend.ttl_s)]
            await self._served(keys=keys, args=args)

        await self._run(remote, lambda: self._fallback.record_served(name, sample_ms, alpha, spend))

    async def add_failure(self, name: str, window_s: float) -> int:
        """Record one failure (server-side sliding window)."""
        async def remote() -> int:
            member = uuid.uuid4().hex
            return int(await self._add_failure(keys=[self._key("failures", name)],
                                               args=[_ms(window_s), member]))

        return await self._run(remote, lambda: self._fallback.add_failure(name, window_s))

    async def reset_failures(self, name: str) -> None:
        """Forget the failures of `name`."""
        async def remote() -> None:
            await self._client.delete(self._key("failures", name))

        await self._run(remote, lambda: self._fallback.reset_failures(name))

    async def open_circuit(self, name: str, cooldown_s: float) -> None:
        """Flag open, drop the trial claim, extend the cooldown — one script."""
        async def remote() -> None:
            keys = [self._key("circuit", name), self._key("trial", name),
                    self._key("cooldown", name)]
            await self._open_circuit(keys=keys, args=[_ms(cooldown_s), _ms(CIRCUIT_TTL_S)])

        await self._run(remote, lambda: self._fallback.open_circuit(name, cooldown_s))

    async def get_open_circuits(self, names: Sequence[str]) -> set[str]:
        """Names whose circuit is not closed."""
        async def remote() -> set[str]:
            if not names:
                return set()
            flags = await self._client.mget([self._key("circuit", n) for n in names])
            return {n for n, flag in zip(names, flags, strict=True) if flag is not None}

        return await self._run(remote, lambda: self._fallback.get_open_circuits(names))

    async def claim_trial(self, name: str, ttl_s: float) -> bool:
        """SET NX: exactly one instance wins the half-open trial."""
        async def remote() -> bool:
            return bool(await self._client.set(self._key("trial", name), "1", nx=True,
                                               px=_ms(ttl_s)))

        return await self._run(remote, lambda: self._fallback.claim_trial(name, ttl_s))

    async def release_trial(self, name: str) -> None:
        """Give the trial claim back (DEL)."""
        async def remote() -> None:
            await self._client.delete(self._key("trial", name))

        await self._run(remote, lambda: self._fallback.release_trial(name))

    async def close_circuit(self, name: str) -> None:
        """Delete flag, trial claim and failures (one DEL)."""
        async def remote() -> None:
            await self._client.delete(self._key("circuit", name), self._key("trial", name),
                                      self._key("failures", name))

        await self._run(remote, lambda: self._fallback.close_circuit(name))

    async def update_latency(self, name: str, sample_ms: float, alpha: float) -> float:
        """EWMA update in one script."""
        async def remote() -> float:
            value = await self._ewma(keys=[self._key("latency", name)],
                                     args=[repr(float(sample_ms)), repr(alpha), _LATENCY_TTL_MS])
            return float(value)

        return await self._run(
            remote, lambda: self._fallback.update_latency(name, sample_ms, alpha)
        )

    async def get_latencies(self, names: Sequence[str]) -> dict[str, float]:
        """Latency EWMAs of the tried names."""
        async def remote() -> dict[str, float]:
            if not names:
                return {}
            values = await self._client.mget([self._key("latency", n) for n in names])
            return {n: float(v) for n, v in zip(names, values, strict=True) if v is not None}

        return await self._run(remote, lambda: self._fallback.get_latencies(names))

    async def _add(self, key: str, amount: float, ttl_s: float | None, integer: bool) -> float:
        ttl_ms = 0 if ttl_s is None else _ms(ttl_s)
        amount_arg = str(int(amount)) if integer else repr(float(amount))
        value = await self._incr(keys=[key], args=[amount_arg, ttl_ms, "1" if integer else "0"])
        return float(value)

    async def add_spend(self, name: str, period: str, amount: float, ttl_s: float) -> float:
        """INCRBYFLOAT the spend of `name` in `period`."""
        key = self._key(f"spend:{period}", name)
        return await self._run(lambda: self._add(key, amount, ttl_s, integer=False),
                               lambda: self._fallback.add_spend(name, period, amount, ttl_s))

    async def get_spend(self, name: str, period: str) -> float:
        """Spend of `name` in `period`."""
        async def remote() -> float:
            value = await self._client.get(self._key(f"spend:{period}", name))
            return 0.0 if value is None else float(value)

        return await self._run(remote, lambda: self._fallback.get_spend(name, period))

    async def incr(self, key: str, amount: int = 1, ttl_s: float | None = None) -> int:
        """INCRBY a generic counter."""
        async def remote() -> int:
            return int(await self._add(self._key("counter", key), amount, ttl_s, integer=True))

        return await self._run(remote, lambda: self._fallback.incr(key, amount, ttl_s))

    async def get_counter(self, key: str) -> int:
        """A generic counter's value."""
        async def remote() -> int:
            value = await self._client.get(self._key("counter", key))
            return 0 if value is None else int(value)

        return await self._run(remote, lambda: self._fallback.get_counter(key))

    async def rate_hit(self, limit: RateLimitItem, key: str) -> bool:
        """Consume one unit (the `limits` moving-window Lua script)."""
        return await self._run(lambda: self._limiter.hit(limit, key),
                               lambda: self._fallback.rate_hit(limit, key))

    async def rate_window(self, limit: RateLimitItem, key: str) -> WindowStats:
        """Remaining units of `limit` for `key`."""
        return await self._run(lambda: self._limiter.get_window_stats(limit, key),
                               lambda: self._fallback.rate_window(limit, key))
