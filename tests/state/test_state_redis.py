"""Redis state across instances, start-up failure, and losing Redis while running."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest
from limits import parse
from redis.asyncio import Redis
from structlog.testing import capture_logs

from gateway.errors import NoProviderAvailable
from gateway.router import RouteHints, Router
from gateway.settings import RoutingSettings, StateSettings
from gateway.state import MemoryState, RedisState, StateUnavailable, open_state
from providers.base import ProviderConfig
from providers.errors import ProviderRateLimited
from tests.conftest import start_redis_server
from tests.fakes import FakeProvider
from tests.router.offers import Offer
from tests.state.conftest import REDIS_URL, free_port

build = Offer()


def router_on(state: RedisState, fake: FakeProvider, rate_limit: str | None = None) -> Router:
    configs = {fake.name: ProviderConfig(rate_limit=rate_limit)}
    return Router({fake.name: fake}, configs, RoutingSettings(), state)


async def test_two_instances_never_exceed_a_shared_rate_limit(redis_prefix: str) -> None:
    states = [RedisState(REDIS_URL, redis_prefix) for _ in range(2)]
    fakes = [FakeProvider("withoutbg", delay_s=0.01) for _ in range(2)]
    routers = [router_on(s, f, "7/minute") for s, f in zip(states, fakes, strict=True)]
    calls = [routers[i % 2].dispatch(build, RouteHints(), time.monotonic() + 10)
             for i in range(40)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    served = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, NoProviderAvailable)]
    assert len(served) == 7 and len(refused) == 33
    assert sum(len(f.calls) for f in fakes) == 7
    assert all(r.attempts[-1].outcome == "skipped:rate_limited" for r in refused)
    assert all(r.retry_after is not None and 0 < r.retry_after <= 60 for r in refused)
    for state in states:
        await state.aclose()


async def test_cooldown_set_by_one_instance_is_seen_by_the_other(redis_prefix: str) -> None:
    first, second = RedisState(REDIS_URL, redis_prefix), RedisState(REDIS_URL, redis_prefix)
    limited = FakeProvider("vendor", script=[ProviderRateLimited("429", retry_after=30.0)])
    other = FakeProvider("vendor")
    with pytest.raises(NoProviderAvailable):
        await router_on(first, limited).dispatch(build, RouteHints(), time.monotonic() + 5)
    with pytest.raises(NoProviderAvailable) as caught:
        await router_on(second, other).dispatch(build, RouteHints(), time.monotonic() + 5)
    assert [a.outcome for a in caught.value.attempts] == ["skipped:cooldown"]
    assert 25 < (caught.value.retry_after or 0) <= 30
    assert other.calls == []
    await first.aclose()
    await second.aclose()


async def test_half_open_trial_claimed_once_across_instances(redis_prefix: str) -> None:
    states = [RedisState(REDIS_URL, redis_prefix) for _ in range(3)]
    await states[0].open_circuit("p", 0.05)
    await asyncio.sleep(0.1)
    claims = await asyncio.gather(*(s.claim_trial("p", 10.0) for s in states for _ in range(4)))
    assert claims.count(True) == 1
    for state in states:
        await state.aclose()


async def test_keys_live_under_the_prefix(redis_prefix: str) -> None:
    state = RedisState(REDIS_URL, redis_prefix)
    await state.set_cooldown("p", 30.0, "rate_limited")
    await state.rate_hit(parse("5/minute"), "p")
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*")]
    await client.aclose()
    assert any(k.endswith("cooldown:p") for k in keys)
    assert any("limits" in k for k in keys)
    await state.aclose()


async def test_open_state_unreachable_fails_loudly_without_password() -> None:
    url = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"
    with pytest.raises(StateUnavailable) as caught:
        await open_state(StateSettings(backend="redis", redis_url=url))
    assert "127.0.0.1" in str(caught.value)
    assert "s3cret" not in str(caught.value)


async def test_open_state_builds_the_configured_backend(redis_prefix: str) -> None:
    assert isinstance(await open_state(StateSettings()), MemoryState)
    state = await open_state(StateSettings(backend="redis", redis_url=REDIS_URL,
                                           key_prefix=redis_prefix))
    assert isinstance(state, RedisState) and await state.ping()
    await state.aclose()


async def test_lost_redis_serves_from_memory_and_logs_once() -> None:
    state = RedisState(f"redis://127.0.0.1:{free_port()}/0", "lost:", retry_interval_s=0.0)
    with capture_logs() as logs:
        await state.set_cooldown("p", 30.0, "rate_limited")
        assert "p" in await state.get_cooldowns(["p"])
        assert await state.rate_hit(parse("1/minute"), "p") is True
        assert await state.rate_hit(parse("1/minute"), "p") is False
        assert await state.incr("n") == 1
    assert state.lost and await state.ping() is False
    lost = [e for e in logs if e["event"] == "redis_lost"]
    assert len(lost) == 1 and lost[0]["log_level"] == "error"
    await state.aclose()


async def test_redis_lost_then_recovered(
    own_redis: tuple[int, list[subprocess.Popen[bytes]]],
) -> None:
    port, started = own_redis
    proc = await start_redis_server(port, started)
    url = f"redis://127.0.0.1:{port}/0"
    # Retry Redis on every call, so the test need not wait for the retry interval.
    state = RedisState(url, "t:", retry_interval_s=0.0)
    assert await state.ping()
    await state.incr("n")
    proc.terminate()
    proc.wait(timeout=5)
    with capture_logs() as logs:
        assert await state.incr("during") == 1
        assert await state.incr("during") == 2
        await start_redis_server(port, started)
        assert await state.incr("after") == 1
    events = [e["event"] for e in logs]
    assert events.count("redis_lost") == 1
    assert events.count("redis_recovered") == 1
    assert not state.lost
    client = Redis(port=port, decode_responses=True)
    assert await client.get("t:counter:after") == "1"
    await client.aclose()
    await state.aclose()


async def test_router_keeps_routing_while_redis_is_lost() -> None:
    state = RedisState(f"redis://127.0.0.1:{free_port()}/0", "lost:")
    fake = FakeProvider("vendor")
    router = router_on(state, fake, "2/minute")
    served = [await router.dispatch(build, RouteHints(), time.monotonic() + 5) for _ in range(2)]
    assert [d.provider.name for d in served] == ["vendor", "vendor"]
    with pytest.raises(NoProviderAvailable):
        await router.dispatch(build, RouteHints(), time.monotonic() + 5)
    assert len(fake.calls) == 2
    assert (await router.describe())[0].headroom == 0
    await state.aclose()
