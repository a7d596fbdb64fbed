"""Result cache: key derivation, store round trips, TTL/size cap, single-flight."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from PIL import Image

from gateway.cache import (
    CachedResult,
    CacheSettings,
    ResultCache,
    cache_key,
    open_cache,
    skips_cache,
)
from providers.base import Margin, OutputOptions

REDIS_URL = "redis://127.0.0.1:6379/15"


def png(size: tuple[int, int] = (48, 32), alpha: int = 0) -> bytes:
    """A real RGBA PNG with uniform alpha."""
    out = io.BytesIO()
    Image.new("RGBA", size, (200, 30, 30, alpha)).save(out, format="PNG")
    return out.getvalue()


def result(data: bytes | None = None) -> CachedResult:
    """A cached answer holding a real PNG."""
    return CachedResult(
        data=data if data is not None else png(), media_type="image/png", width=48, height=32,
        provider="withoutbg", emulated=("crop",), attempts_header="withoutbg=ok",
    )


class Computation:
    """A compute callable that counts calls and can be held until released."""

    def __init__(self, value: CachedResult | Exception) -> None:
        self.value = value
        self.calls = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> CachedResult:
        self.calls += 1
        self.entered.set()
        await self.release.wait()
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def ready(value: CachedResult | Exception) -> Computation:
    """A Computation that answers at once."""
    computation = Computation(value)
    computation.release.set()
    return computation




# --- key -------------------------------------------------------------------------------------


def test_key_changes_with_every_input() -> None:
    image, other = png(alpha=0), png(alpha=255)
    base = cache_key(image, None, OutputOptions(), None)
    assert len(base) == 64 and int(base, 16) >= 0
    variants = {
        cache_key(other, None, OutputOptions(), None),
        cache_key(image, b"", OutputOptions(), None),
        cache_key(image, png(), OutputOptions(), None),
        cache_key(image, None, OutputOptions(format="webp"), None),
        cache_key(image, None, OutputOptions(crop=True, crop_margin=Margin(5, "%")), None),
        cache_key(image, None, OutputOptions(crop=True, crop_margin=Margin(5, "px")), None),
        cache_key(image, None, OutputOptions(bg_color=(255, 255, 255, 255)), None),
        cache_key(image, None, OutputOptions(), "withoutbg"),
        cache_key(image, None, OutputOptions(), "local"),
        cache_key(image, None, OutputOptions(), ""),
    }
    assert base not in variants
    assert len(variants) == 10


def test_key_is_stable_for_equal_options() -> None:
    image = png()
    assert cache_key(image, None, OutputOptions(), None) == cache_key(
        image, None, OutputOptions(format="png", channels="rgba"), None
    )
    five = OutputOptions(crop=True, crop_margin=Margin(5, "px"))
    five_float = OutputOptions(crop=True, crop_margin=Margin(5.0, "px"))
    assert cache_key(image, None, five, None) == cache_key(image, None, five_float, None)


@pytest.mark.parametrize(
    ("header", "skips"),
    [(None, False), ("", False), ("max-age=0", False), ("no-cache", False),
     ("no-store", True), ("No-Store", True), ("private, no-store", True),
     ("max-age=10 , NO-STORE", True), ("no-storex", False)],
)
def test_no_store_header_skips_the_cache(header: str | None, skips: bool) -> None:
    assert skips_cache(header) is skips


# --- get / put -------------------------------------------------------------------------------


async def test_round_trip_keeps_a_decodable_image() -> None:
    cache = ResultCache(MemoryStore(), CacheSettings())
    assert await cache.get("k") is None
    assert await cache.put("k", result(png((40, 20), alpha=128)))
    got = await cache.get("k")
    assert got is not None and got.provider == "withoutbg" and got.emulated == ("crop",)
    with Image.open(io.BytesIO(got.data)) as img:
        assert img.size == (40, 20) and img.mode == "RGBA"
        assert img.getpixel((0, 0))[3] == 128


async def test_entries_carry_the_configured_ttl() -> None:
    store = MemoryStore()
    cache = ResultCache(store, CacheSettings(ttl_s=600))
    await cache.put("k", result())
    remaining = await store.expires_in("k")
    assert remaining is not None and 0 < remaining <= 600


async def test_oversized_entries_are_not_stored() -> None:
    big = result(png((256, 256), alpha=255))
    cache = ResultCache(MemoryStore(), CacheSettings(max_entry_bytes=len(big.data) - 1))
    assert not await cache.put("k", big)
    assert await cache.get("k") is None
    computation = ready(big)
    for _ in range(2):
        value, hit = await cache.get_or_compute("k", computation)
        assert value == big and not hit
    assert computation.calls == 2


async def test_disabled_cache_always_computes() -> None:
    cache = ResultCache(MemoryStore(), CacheSettings(enabled=False))
    computation = ready(result())
    for _ in range(2):
        assert (await cache.get_or_compute("k", computation))[1] is False
    assert computation.calls == 2
    assert not await cache.put("k", result())


async def test_corrupt_entry_is_a_miss() -> None:
    store = MemoryStore()
    await store.set("k", b"\x00not msgpack of a result")
    assert await ResultCache(store, CacheSettings()).get("k") is None


class BrokenStore(MemoryStore):
    """A store whose backend is down."""

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        raise ConnectionError("store down")

    async def set(self, key: str, value: str | bytes,
                  expires_in: int | timedelta | None = None) -> None:
        raise ConnectionError("store down")


async def test_store_failure_degrades_to_a_miss() -> None:
    cache = ResultCache(BrokenStore(), CacheSettings())
    value, hit = await cache.get_or_compute("k", ready(result()))
    assert value == result() and not hit


# --- single-flight ---------------------------------------------------------------------------


async def test_concurrent_identical_requests_compute_once() -> None:
    # Entries over the cap are never stored, so only single-flight can dedupe here.
    cache = ResultCache(MemoryStore(), CacheSettings(max_entry_bytes=1))
    computation = Computation(result())
    tasks = [asyncio.create_task(cache.get_or_compute("k", computation)) for _ in range(20)]
    await computation.entered.wait()
    computation.release.set()
    answers = await asyncio.gather(*tasks)
    assert computation.calls == 1
    assert all(value == result() for value, _ in answers)
    assert sorted(hit for _, hit in answers) == [False] + [True] * 19
    # Nothing was cached (over the cap) and nothing is left in flight: the next call computes.
    again = ready(result())
    assert (await cache.get_or_compute("k", again))[1] is False and again.calls == 1


async def test_second_request_is_a_cache_hit() -> None:
    cache = ResultCache(MemoryStore(), CacheSettings())
    first, second = ready(result()), ready(result())
    assert (await cache.get_or_compute("k", first))[1] is False
    value, hit = await cache.get_or_compute("k", second)
    assert hit and value == result() and second.calls == 0


async def test_failure_reaches_every_waiter_and_is_not_cached() -> None:
    cache = ResultCache(MemoryStore(), CacheSettings())
    boom = RuntimeError("vendor down")
    computation = Computation(boom)
    tasks = [asyncio.create_task(cache.get_or_compute("k", computation)) for _ in range(5)]
    await computation.entered.wait()
    computation.release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert computation.calls == 1
    assert all(outcome is boom for outcome in outcomes)
    assert await cache.get("k") is None
    retry = ready(result())
    assert (await cache.get_or_compute("k", retry))[1] is False and retry.calls == 1


async def test_cancelled_leader_hands_over_to_a_waiter() -> None:
    cache = ResultCache(MemoryStore(), CacheSettings())
    stuck = Computation(result())
    leader = asyncio.create_task(cache.get_or_compute("k", stuck))
    await stuck.entered.wait()
    takeover = ready(result())
    waiter = asyncio.create_task(cache.get_or_compute("k", takeover))
    await asyncio.sleep(0)
    assert takeover.calls == 0
    leader.cancel()
    value, hit = await waiter
    assert leader.cancelled()
    assert value == result() and hit is False and takeover.calls == 1


async def test_different_keys_do_not_wait_for_each_other() -> None:
    cache = ResultCache(MemoryStore(), CacheSettings())
    held = Computation(result())
    blocked = asyncio.create_task(cache.get_or_compute("a", held))
    await held.entered.wait()
    other = ready(result(png((8, 8))))
    _, hit = await cache.get_or_compute("b", other)
    assert not hit and other.calls == 1 and not blocked.done()
    held.release.set()
    await blocked


# --- stores ----------------------------------------------------------------------------------


async def test_file_store_survives_a_new_instance(tmp_path: Path) -> None:
    settings = CacheSettings(backend="file", path=str(tmp_path / "deep" / "results"), ttl_s=60)
    first = open_cache(settings)
    assert isinstance(first.store, FileStore)
    await first.get_or_compute("k", ready(result()))
    second = open_cache(settings)
    value, hit = await second.get_or_compute("k", ready(result(b"")))
    assert hit and value == result()
    remaining = await second.store.expires_in("k")
    assert remaining is not None and 0 < remaining <= 60


async def test_redis_store_is_shared_between_instances(redis_prefix: str) -> None:
    settings = CacheSettings(backend="redis", redis_url=REDIS_URL, key_prefix=redis_prefix,
                             ttl_s=120)
    first, second = open_cache(settings), open_cache(settings)
    try:
        assert isinstance(first.store, RedisStore)
        assert (await first.get_or_compute("k", ready(result())))[1] is False
        value, hit = await second.get_or_compute("k", ready(result(b"")))
        assert hit and value == result()
        remaining = await second.store.expires_in("k")
        assert remaining is not None and 0 < remaining <= 120
        keys = redis.Redis.from_url(REDIS_URL).keys(f"{redis_prefix}*")
        assert keys == [f"{redis_prefix}cache:k".encode()]
    finally:
        await first.aclose()
        await second.aclose()


async def test_sweep_drops_expired_memory_entries() -> None:
    store: Store = MemoryStore()
    cache = ResultCache(store, CacheSettings())
    await store.set("gone", b"x", expires_in=timedelta(microseconds=1))
    await cache.put("kept", result())
    await asyncio.sleep(0.01)  # lets the 1 µs expiry pass; not a timing assertion
    await cache.sweep_expired()
    assert not await store.exists("gone")
    assert await store.exists("kept")


async def test_lost_redis_store_falls_back_to_an_in_process_store() -> None:
    """Nothing listens on the port: lookups miss, then hit what was put meanwhile; no error."""
    settings = CacheSettings(backend="redis", redis_url="redis://127.0.0.1:1/0")
    cache = open_cache(settings)
    try:
        assert cache.guard is not None
        assert await cache.get("k") is None
        assert cache.guard.lost
        assert await cache.put("k", result()) is True
        found = await cache.get("k")
        assert found is not None and found.provider == result().provider
    finally:
        await cache.aclose()
