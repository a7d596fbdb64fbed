"""Dispatch with failover against the in-memory state: attempts, deadlines, cooldowns, circuit."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.errors import NoProviderAvailable, ProviderFailed, ProviderTimedOut
from gateway.router import RouteHints, Router
from gateway.settings import RoutingSettings
from gateway.state import MemoryState
from providers.base import Budget, Capabilities, ProviderConfig, ProviderRequest
from providers.errors import (
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from tests.fakes import FakeProvider
from tests.router.offers import Offer

build = Offer()


def make(
    *fakes: FakeProvider, state: MemoryState | None = None,
    configs: dict[str, ProviderConfig] | None = None, **routing: object,
) -> tuple[Router, MemoryState]:
    """A Router over `fakes` in priority order (first = tried first)."""
    state = state or MemoryState()
    configs = configs or {}
    full = {f.name: configs.get(f.name, ProviderConfig(priority=i)) for i, f in enumerate(fakes)}
    settings = RoutingSettings(**routing)  # type: ignore[arg-type]
    return Router({f.name: f for f in fakes}, full, settings, state), state


def outcomes(attempts: tuple) -> list[tuple[str, str]]:
    return [(a.provider, a.outcome) for a in attempts]


def soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


async def test_fails_over_in_order_and_returns_the_trail() -> None:
    a = FakeProvider("a", script=[ProviderUnavailable])
    b = FakeProvider("b")
    c = FakeProvider("c")
    router, _ = make(a, b, c)
    done = await router.dispatch(build, RouteHints(), soon())
    assert done.provider is b
    assert outcomes(done.attempts) == [("a", "unavailable"), ("b", "ok")]
    assert (len(a.calls), len(b.calls), len(c.calls)) == (1, 1, 0)
    assert done.result.data.startswith(b"\x89PNG")


async def test_no_fallback_on_rejected_image() -> None:
    a = FakeProvider("a", script=[ProviderRejected])
    b = FakeProvider("b")
    router, state = make(a, b)
    with pytest.raises(ProviderFailed, match="rejected") as caught:
        await router.dispatch(build, RouteHints(), soon())
    assert caught.value.status == 502
    assert outcomes(caught.value.attempts) == [("a", "rejected")]
    assert b.calls == []
    assert await state.get_cooldowns(["a"]) == {}


async def test_fallback_false_keeps_to_the_first_candidate() -> None:
    a = FakeProvider("a", script=[ProviderUnavailable] * 5)
    b = FakeProvider("b")
    router, _ = make(a, b, max_attempts=3, allowed_fails=10)
    with pytest.raises(ProviderFailed) as caught:
        await router.dispatch(build, RouteHints(fallback=False), soon())
    assert b.calls == []
    # Transient errors may be retried on the same provider within the attempt budget.
    assert len(a.calls) == 3
    assert [o for _, o in outcomes(caught.value.attempts)] == ["unavailable"] * 3


async def test_pinned_provider_has_no_fallback_unless_asked() -> None:
    a = FakeProvider("a")
    b = FakeProvider("b", script=[ProviderTimeout] * 3)
    router, _ = make(a, b, max_attempts=2)
    with pytest.raises(ProviderTimedOut) as caught:
        await router.dispatch(build, RouteHints(provider="b"), soon())
    assert outcomes(caught.value.attempts) == [("b", "timeout"), ("b", "timeout")]
    assert a.calls == []
    done = await router.dispatch(build, RouteHints(provider="b", fallback=True), soon())
    assert outcomes(done.attempts) == [("b", "timeout"), ("a", "ok")]


async def test_one_attempt_budget_across_fallbacks() -> None:
    fakes = [FakeProvider(n, script=[ProviderUnavailable]) for n in "abcde"]
    router, _ = make(*fakes, max_attempts=2)
    with pytest.raises(ProviderFailed) as caught:
        await router.dispatch(build, RouteHints(), soon())
    assert [len(f.calls) for f in fakes] == [1, 1, 0, 0, 0]
    assert len(caught.value.attempts) == 2


async def test_retries_same_provider_after_the_list_is_exhausted() -> None:
    a = FakeProvider("a", script=[ProviderUnavailable])
    router, _ = make(a, max_attempts=3)
    done = await router.dispatch(build, RouteHints(), soon())
    assert outcomes(done.attempts) == [("a", "unavailable"), ("a", "ok")]


async def test_deadline_ends_the_request_with_504() -> None:
    slow = FakeProvider("slow", delay_s=2.0)
    never = FakeProvider("never")
    router, _ = make(slow, never, max_attempts=3)
    with pytest.raises(ProviderTimedOut) as caught:
        await router.dispatch(build, RouteHints(), soon(0.2))
    assert caught.value.status == 504
    assert outcomes(caught.value.attempts) == [("slow", "timeout")]
    assert never.calls == []


async def test_deadline_already_spent_calls_nobody() -> None:
    a = FakeProvider("a")
    router, _ = make(a)
    with pytest.raises(ProviderTimedOut):
        await router.dispatch(build, RouteHints(), time.monotonic() - 1)
    assert a.calls == []


async def test_retry_after_sets_cooldown_skips_and_reports_earliest() -> None:
    a = FakeProvider("a", script=[ProviderRateLimited("429", retry_after=30.0)])
    b = FakeProvider("b", script=[None, ProviderUnavailable("503", retry_after=5.0)])
    router, state = make(a, b)
    first = await router.dispatch(build, RouteHints(), soon())
    assert outcomes(first.attempts) == [("a", "rate_limited"), ("b", "ok")]
    cooldowns = await state.get_cooldowns(["a"])
    assert 25 < cooldowns["a"].remaining_s <= 30 and cooldowns["a"].reason == "rate_limited"
    with pytest.raises(NoProviderAvailable) as caught:
        await router.dispatch(build, RouteHints(), soon())
    assert outcomes(caught.value.attempts) == [("a", "skipped:cooldown"), ("b", "unavailable")]
    assert caught.value.retry_after is not None and 4 < caught.value.retry_after <= 5
    with pytest.raises(NoProviderAvailable) as again:
        await router.dispatch(build, RouteHints(), soon())
    assert outcomes(again.value.attempts) == [("a", "skipped:cooldown"), ("b", "skipped:cooldown")]
    assert again.value.status == 503 and again.value.retry_after <= 5
    assert len(a.calls) == 1 and len(b.calls) == 2


async def test_retry_after_capped_and_out_of_credits_long() -> None:
    a = FakeProvider("a", script=[ProviderRateLimited("429", retry_after=99999.0)])
    b = FakeProvider("b", script=[ProviderOutOfCredits])
    c = FakeProvider("c")
    router, state = make(a, b, c, max_cooldown_s=60.0, out_of_credits_cooldown_s=7200.0)
    await router.dispatch(build, RouteHints(), soon())
    cooldowns = await state.get_cooldowns(["a", "b"])
    assert cooldowns["a"].remaining_s <= 60.0
    assert cooldowns["b"].remaining_s > 3600 and cooldowns["b"].reason == "out_of_credits"


async def test_circuit_opens_then_one_half_open_trial() -> None:
    a = FakeProvider("a", script=[ProviderUnavailable, ProviderUnavailable])
    b = FakeProvider("b")
    router, _ = make(a, b, allowed_fails=2, cooldown_s=0.4, max_attempts=1)
    for _ in range(2):
        with pytest.raises(ProviderFailed):
            await router.dispatch(build, RouteHints(), soon())
    status = {s.name: s for s in await router.describe()}
    assert status["a"].circuit == "open" and status["a"].cooldown_s > 0
    skipped = await router.dispatch(build, RouteHints(), soon())
    assert outcomes(skipped.attempts) == [("a", "skipped:cooldown"), ("b", "ok")]
    await asyncio.sleep(0.45)
    assert {s.name: s.circuit for s in await router.describe()}["a"] == "half_open"
    a.delay_s = 0.1
    results = await asyncio.gather(*(router.dispatch(build, RouteHints(), soon())
                                     for _ in range(4)))
    assert len(a.calls) == 3  # two failures, then exactly one trial
    served = sorted(r.provider.name for r in results)
    assert served == ["a", "b", "b", "b"]
    assert {s.name: s.circuit for s in await router.describe()}["a"] == "closed"


async def test_failed_trial_reopens_the_circuit() -> None:
    a = FakeProvider("a", script=[ProviderTimeout, ProviderTimeout])
    b = FakeProvider("b")
    router, _ = make(a, b, allowed_fails=1, cooldown_s=0.3)
    first = await router.dispatch(build, RouteHints(), soon())
    assert outcomes(first.attempts) == [("a", "timeout"), ("b", "ok")]
    await asyncio.sleep(0.35)
    trial = await router.dispatch(build, RouteHints(), soon())
    assert outcomes(trial.attempts) == [("a", "timeout"), ("b", "ok")]
    assert {s.name: s.circuit for s in await router.describe()}["a"] == "open"


async def test_budget_removes_provider_when_spent() -> None:
    paid = FakeProvider("paid", cost=1.0)
    free = FakeProvider("free")
    budget = Budget(amount=2.0, period="day")
    configs = {"paid": ProviderConfig(priority=1, cost=1.0, budget=budget),
               "free": ProviderConfig(priority=2)}
    router, _ = make(paid, free, configs=configs)
    served = [(await router.dispatch(build, RouteHints(), soon())).provider.name for _ in range(3)]
    assert served == ["paid", "paid", "free"]
    last = await router.dispatch(build, RouteHints(), soon())
    assert outcomes(last.attempts) == [("paid", "skipped:budget"), ("free", "ok")]
    status = {s.name: s for s in await router.describe()}
    assert status["paid"].spend == pytest.approx(2.0) and status["paid"].budget == 2.0


class WindowWatcher(FakeProvider):
    """Records the rate-limit headroom it sees while being called."""

    def __init__(self, name: str, state: MemoryState, router_limit: str) -> None:
        super().__init__(name)
        self.state = state
        self.seen: list[int] = []
        from limits import parse

        self.item = parse(router_limit)

    async def remove_background(self, request: ProviderRequest):  # type: ignore[override]
        self.seen.append((await self.state.rate_window(self.item, self.name)).remaining)
        return await super().remove_background(request)


async def test_rate_limit_consumed_before_sending() -> None:
    state = MemoryState()
    watched = WindowWatcher("watched", state, "2/minute")
    spare = FakeProvider("spare")
    configs = {"watched": ProviderConfig(priority=1, rate_limit="2/minute"),
               "spare": ProviderConfig(priority=2)}
    router, _ = make(watched, spare, state=state, configs=configs)
    served = [(await router.dispatch(build, RouteHints(), soon())).provider.name for _ in range(3)]
    assert served == ["watched", "watched", "spare"]
    assert watched.seen == [1, 0]
    status = {s.name: s for s in await router.describe()}
    assert status["watched"].headroom == 0 and status["spare"].headroom is None


async def test_all_rate_limited_is_503_with_earliest_retry_after() -> None:
    a = FakeProvider("a", script=[ProviderRateLimited("429", retry_after=40.0)])
    b = FakeProvider("b", script=[ProviderRateLimited("429", retry_after=8.0)])
    router, _ = make(a, b)
    with pytest.raises(NoProviderAvailable) as caught:
        await router.dispatch(build, RouteHints(), soon())
    assert caught.value.retry_after == pytest.approx(8.0)


async def test_adapter_bug_is_a_fallback_protocol_error() -> None:
    a = FakeProvider("a")
    a.remove_background = lambda request: (_ for _ in ()).throw(KeyError("x"))  # type: ignore[method-assign]
    b = FakeProvider("b")
    router, _ = make(a, b)
    done = await router.dispatch(build, RouteHints(), soon())
    assert outcomes(done.attempts) == [("a", "protocol"), ("b", "ok")]


async def test_success_records_latency_and_spend() -> None:
    a = FakeProvider("a", cost=0.5)
    router, state = make(a, configs={"a": ProviderConfig(cost=0.25)})
    await router.dispatch(build, RouteHints(), soon())
    assert "a" in await state.get_latencies(["a"])
    status = (await router.describe())[0]
    assert status.spend == pytest.approx(0.5)  # the result's cost wins over the configured one
    assert status.latency_ewma_ms is not None


async def test_describe_lists_disabled_in_config_order() -> None:
    a = FakeProvider("a", capabilities=Capabilities(output="mask"))
    configs = {"off": ProviderConfig(priority=5), "a": ProviderConfig(priority=1)}
    router = Router({"a": a}, configs, RoutingSettings(), MemoryState(),
                    disabled={"off": "no API key"})
    listed = await router.describe()
    assert [(s.name, s.enabled, s.disabled_reason) for s in listed] == [
        ("off", False, "no API key"), ("a", True, None),
    ]
    assert listed[1].circuit == "closed" and listed[1].capabilities.output == "mask"
    assert router.candidates(RouteHints()) == [a]


async def test_weighted_dispatch_is_sticky_and_seeded() -> None:
    fakes = [FakeProvider(n) for n in ("x", "y", "z")]
    router, _ = make(*fakes, policy="weighted", seed=3)
    for key in ("alice", "bob", "carol"):
        served = {(await router.dispatch(build, RouteHints(routing_key=key), soon())).provider.name
                  for _ in range(5)}
        assert len(served) == 1

    async def unkeyed(seed: int) -> list[str]:
        seeded, _ = make(*fakes, policy="weighted", seed=seed)
        return [(await seeded.dispatch(build, RouteHints(), soon())).provider.name
                for _ in range(30)]

    first = await unkeyed(11)
    assert await unkeyed(11) == first
    assert len(set(first)) == 3


async def test_fake_provider_answers_a_real_matte_of_the_request_size() -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="JPEG")
    request = ProviderRequest(image=buffer.getvalue(), image_format="jpeg", width=64, height=48,
                              request_id="r", deadline=soon())
    cutout = await FakeProvider("c").remove_background(request)
    with Image.open(io.BytesIO(cutout.data)) as image:
        assert image.mode == "RGBA" and image.size == (64, 48)
        assert image.getpixel((0, 0))[3] == 0 and image.getpixel((32, 24))[3] == 255
        assert abs(image.getpixel((32, 24))[0] - 200) < 10
    mask_fake = FakeProvider("m", capabilities=Capabilities(output="mask"))
    mask = await mask_fake.remove_background(request)
    with Image.open(io.BytesIO(mask.data)) as image:
        assert image.mode == "L" and image.size == (64, 48)
        assert image.getpixel((63, 47)) == 0 and image.getpixel((32, 24)) == 255
    assert mask.kind == "mask" and len(mask_fake.calls) == 1


async def test_a_bad_answer_falls_over_and_counts_against_the_provider() -> None:
    a, b = FakeProvider("a"), FakeProvider("b")
    router, state = make(a, b, allowed_fails=2)
    offer = Offer(reject={"a"})
    done = await router.dispatch(offer, RouteHints(), soon())
    assert done.provider is b and offer.checked == ["a", "b"]
    assert outcomes(done.attempts) == [("a", "bad_answer"), ("b", "ok")]
    assert done.plan.emulate == frozenset() and done.request.request_id == "req-1"
    await router.dispatch(offer, RouteHints(), soon())
    # two bad answers in the window open a's circuit: the next request skips it
    skipped = await router.dispatch(offer, RouteHints(), soon())
    assert outcomes(skipped.attempts) == [("a", "skipped:cooldown"), ("b", "ok")]
    assert "a" in await state.get_open_circuits(["a", "b"])
