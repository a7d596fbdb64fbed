"""Result cache ("never pay twice"): finished answers keyed by input, options and pin.

Entries live in a Litestar store (memory, file or Redis) with a TTL; entries larger than
`max_entry_bytes` are not stored. `ResultCache.get_or_compute` adds single-flight: concurrent
callers with the same key *in this process* await the one computation in flight instead of each
calling a vendor. Across instances there is no lock; the shared store dedupes later requests.

Waiters of an in-flight computation count as hits: they answer without a vendor call of their
own, so they cost nothing and are marked `X-Cache: hit`. If the computation fails, every waiter
gets the same exception and nothing is cached; if the computing caller is cancelled (its client
went away), one of the waiters takes over.

When the cache is disabled, `get_or_compute` just calls `compute` (no single-flight either).
A store that fails degrades to a miss with a warning log: the cache is an optimisation and must
not turn a servable request into an error. A Redis store that is lost is replaced by an in-process
MemoryStore until Redis answers again (`gateway.state.guard`: logged once, not per request).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import msgspec
import structlog
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis

from gateway.settings import CacheSettings
from gateway.state.guard import RedisGuard
from gateway.state.redis import redacted_url
from providers.base import OutputOptions

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: Bump when post-processing changes so old answers stop matching.
KEY_VERSION = b"bg-gateway-result/v1"


class CachedResult(msgspec.Struct, frozen=True, kw_only=True):
    """A finished answer as the client received it."""

    data: bytes
    media_type: str
    width: int
    height: int
    provider: str
    emulated: tuple[str, ...] = ()
    attempts_header: str = ""


def cache_key(
    image: bytes, trimap: bytes | None, options: OutputOptions, pinned: str | None
) -> str:
    """SHA-256 hex of the image, trimap, normalised options and pinned provider."""
    # Round-trip through builtins so equal options (e.g. margin 5 vs 5.0) encode identically.
    normalised = msgspec.convert(msgspec.to_builtins(options), OutputOptions)
    digest = hashlib.sha256(KEY_VERSION)
    parts: tuple[tuple[bytes, bytes | None], ...] = (
        (b"I", image),
        (b"T", trimap),
        (b"O", msgspec.json.encode(normalised, order="sorted")),
        (b"P", None if pinned is None else pinned.encode()),
    )
    for tag, part in parts:
        # Tag + length framing: no two different inputs share a byte stream; None != b"".
        if part is None:
            digest.update(tag + b"-")
        else:
            digest.update(tag + len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def skips_cache(cache_control: str | None) -> bool:
    """True when the client's `Cache-Control` header carries `no-store`."""
    if not cache_control:
        return False
    directives = (d.split("=", 1)[0].strip().lower() for d in cache_control.split(","))
    return "no-store" in directives


class ResultCache:
    """Store-backed result cache with per-process single-flight."""

    def __init__(
        self, store: Store, settings: CacheSettings, guard: RedisGuard | None = None
    ) -> None:
        """Cache in `store` (owned: closed by `aclose`); `guard` when the store is Redis."""
        self.store = store
        self.settings = settings
        self.guard = guard
        self._standin = MemoryStore()
        if guard is not None:
            # Entries made during an outage are dropped once Redis is back (bounded memory).
            guard.on_recover = self._standin.delete_all
        self._inflight: dict[str, asyncio.Future[CachedResult]] = {}
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(CachedResult)

    async def get(self, key: str) -> CachedResult | None:
        """The cached answer for `key`, or None (also when disabled or the store fails)."""
        if not self.settings.enabled:
            return None
        try:
            raw = await self._on_store(
                lambda: self.store.get(key), lambda: self._standin.get(key)
            )
        except Exception as exc:
            log.warning("cache_get_failed", error=type(exc).__name__)
            return None
        if raw is None:
            return None
        try:
            return self._decoder.decode(raw)
        except msgspec.DecodeError:
            log.warning("cache_entry_corrupt", key=key)
            return None

    async def put(self, key: str, value: CachedResult) -> bool:
        """Store `value` for `ttl_s`; False when disabled, too large, or the store fails."""
        if not self.settings.enabled:
            return False
        raw = self._encoder.encode(value)
        if len(raw) > self.settings.max_entry_bytes:
            return False
        ttl = self.settings.ttl_s
        try:
            await self._on_store(lambda: self.store.set(key, raw, expires_in=ttl),
                                 lambda: self._standin.set(key, raw, expires_in=ttl))
        except Exception as exc:
            log.warning("cache_put_failed", error=type(exc).__name__)
            return False
        return True

    async def _on_store(
        self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        """`remote` on the configured store; on the stand-in while its Redis is lost."""
        if self.guard is None:
            return await remote()
        return await self.guard.run(remote, local)

    async def get_or_compute(
        self, key: str, compute: Callable[[], Awaitable[T]],
        to_entry: Callable[[T], CachedResult] | None = None,
    ) -> tuple[T | CachedResult, bool]:
        """The answer for `key` and whether it was a hit (cached or shared with a caller).

        `compute` may return a richer value than the entry (`to_entry` makes the entry from
        it): the computing caller gets that value back, every other caller the entry.
        """
        if not self.settings.enabled:
            return await compute(), False
        while True:
            inflight = self._inflight.get(key)
            if inflight is None:
                break
            # wait() does not propagate the leader's cancellation to us, only our own.
            await asyncio.wait((inflight,))
            if not inflight.cancelled():
                return inflight.result(), True
        future: asyncio.Future[CachedResult] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            cached = await self.get(key)
            if cached is not None:
                future.set_result(cached)
                return cached, True
            result = await compute()
            entry = to_entry(result) if to_entry is not None else result
            assert isinstance(entry, CachedResult)
            future.set_result(entry)  # release the waiters before the (possibly slow) write
            await self.put(key, entry)
            return result, False
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: with no waiters asyncio would log it
            raise
        finally:
            if not future.done():
                future.cancel()  # we were cancelled: a waiter retries and takes over
            del self._inflight[key]

    async def sweep_expired(self) -> None:
        """Drop expired entries from memory/file stores (Redis expires keys itself)."""
        if isinstance(self.store, MemoryStore | FileStore):
            await self.store.delete_expired()
        await self._standin.delete_expired()

    async def aclose(self) -> None:
        """Close the store's connections (Redis)."""
        await self.store.__aexit__(None, None, None)


def open_store(settings: CacheSettings) -> tuple[Store, Redis | None]:
    """Build the Litestar store `settings` names (file directory is created now), and its Redis."""
    if settings.backend == "redis":
        client = Redis.from_url(settings.redis_url, socket_connect_timeout=2.0, socket_timeout=5.0)
        store = RedisStore(client, namespace=f"{settings.key_prefix}cache",
                           handle_client_shutdown=True)
        return store, client
    if settings.backend == "file":
        Path(settings.path).mkdir(parents=True, exist_ok=True)
        return FileStore(Path(settings.path)), None
    return MemoryStore(), None


def open_cache(settings: CacheSettings) -> ResultCache:
    """A ResultCache on the store `settings` names (stand-in while its Redis is lost)."""
    store, client = open_store(settings)
    guard = None
    if client is not None:
        guard = RedisGuard("cache", redacted_url(settings.redis_url), client.ping)
    return ResultCache(store, settings, guard)
