"""Experiments: sticky assignment, outcome counters, and mirror traffic that never delays."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.compare.experiments import choose_variant, experiment_name
from gateway.compare.stats import ExperimentStats
from gateway.errors import InvalidOption, ProviderFailed
from gateway.router import RouteHints
from gateway.runtime import Runtime
from gateway.service import RemovalCall, Served
from gateway.settings import ExperimentSettings
from gateway.settings.loader import experiment_problems
from providers.base import OutputOptions, ProviderRequest, ProviderResult
from providers.errors import ProviderAuthError
from tests.compare.conftest import compare_settings, fake_configs, photo, png
from tests.fakes import FakeProvider
from tests.imaging import decode

AB = {"variants": {"a": 50, "b": 50}}


@asynccontextmanager
async def started(settings: Any, providers: Mapping[str, Any]) -> AsyncIterator[Runtime]:
    runtime = Runtime(settings, providers)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.experiments.drain(10)
        await runtime.stop()


async def serve(
    runtime: Runtime, experiment: str | None = "ab", key: str | None = None,
    hints: RouteHints | None = None, headers: Mapping[str, str] | None = None,
) -> Any:
    hints = hints or RouteHints(routing_key=key)
    call = RemovalCall(image=photo(), request_id="req-1", options=OutputOptions(), hints=hints)
    return await runtime.remove(call, experiment_name(headers or {}, experiment))


def opaque_mask(provider: str) -> ProviderResult:
    """A mask that keeps the whole frame (disagrees with the fakes' centre box)."""
    data = png(np.full((64, 64), 255, np.uint8))
    return ProviderResult(data=data, media_type="image/png", kind="mask", provider=provider)


class GatedProvider(FakeProvider):
    """Waits for `gate` before answering, and logs when it starts and finishes."""

    def __init__(self, name: str, gate: asyncio.Event, events: list[str],
                 answer: Callable[[str], ProviderResult]) -> None:
        super().__init__(name)
        self.gate, self.events, self.answer = gate, events, answer

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        self.calls.append(request)
        self.events.append("mirror_started")
        await self.gate.wait()
        self.events.append("mirror_done")
        return self.answer(self.name)


def test_assignment_is_sticky_and_follows_the_weights() -> None:
    config = ExperimentSettings(variants={"a": 80, "b": 20})
    rng = random.Random(1)
    keys = [str(n) for n in range(2000)]
    first = {key: choose_variant("ab", config, key, rng, ["a", "b"]) for key in keys}
    again = {key: choose_variant("ab", config, key, random.Random(2), ["a", "b"]) for key in first}
    assert first == again  # the key alone decides, whatever the RNG
    share = Counter(first.values())["a"] / len(first)
    assert 0.75 < share < 0.85
    # Another experiment splits the same keys independently.
    other = [choose_variant("other", config, key, rng, ["a", "b"]) for key in first]
    assert other != list(first.values())


def test_without_a_key_assignment_is_random_and_skips_unavailable_variants() -> None:
    config = ExperimentSettings(variants={"a": 1, "b": 1})
    rng = random.Random(7)
    picks = Counter(choose_variant("ab", config, None, rng, ["a", "b"]) for _ in range(200))
    assert set(picks) == {"a", "b"}
    assert {choose_variant("ab", config, "k", rng, ["b"]) for _ in range(20)} == {"b"}


def test_config_problems_name_the_key() -> None:
    good = ExperimentSettings(variants={"a": 1}, mirror=("c",))
    assert experiment_problems({"x": good}, ["a", "c"]) == []
    bad = ExperimentSettings(variants={"a": 0, "zz": 1}, mirror=("a",), mirror_share=2)
    problems = experiment_problems({"x": bad}, ["a"])
    assert any("experiments.x.variants`: unknown provider 'zz'" in p for p in problems)
    assert any("experiments.x.variants.a`" in p for p in problems)
    assert any("experiments.x.mirror`" in p for p in problems)
    assert any("experiments.x.mirror_share`" in p for p in problems)


async def test_a_request_joins_by_option_or_header_and_is_pinned(tmp_path: Path) -> None:
    providers = {"a": FakeProvider("a", cost=1.5), "b": FakeProvider("b", cost=1.5)}
    settings = compare_settings(tmp_path, fake_configs("a", "b"), {"ab": AB})
    async with started(settings, providers) as runtime:
        by_option = await serve(runtime, key="customer-1")
        by_header = await serve(runtime, None, key="customer-1", headers={"x-experiment": "ab"})
        plain = await serve(runtime, None, key="customer-1")
        report = await ExperimentStats(runtime.state).report("ab", settings.experiments["ab"])
    assert isinstance(by_option, Served) and by_option.experiment == "ab"
    assert by_option.variant == by_header.variant == by_option.removal.provider
    assert plain.experiment is None and plain.variant is None
    row = {v.provider: v for v in report.variants}[by_option.variant]
    assert row.requests == 2 and row.served == 2 and row.error_rate == 0.0
    assert row.spend == pytest.approx(3.0)
    assert row.latency.samples == 2 and row.latency.p50_ms is not None


async def test_unknown_experiment_and_provider_pin_are_client_errors(tmp_path: Path) -> None:
    settings = compare_settings(tmp_path, fake_configs("a", "b"), {"ab": AB})
    async with started(settings, {"a": FakeProvider("a"), "b": FakeProvider("b")}) as runtime:
        with pytest.raises(InvalidOption, match="unknown experiment"):
            await serve(runtime, "nope")
        with pytest.raises(InvalidOption, match="cannot be combined"):
            await serve(runtime, hints=RouteHints(provider="a"))


async def test_failures_and_fallbacks_count_against_the_variant(tmp_path: Path) -> None:
    experiments = {"pinned": {"variants": {"a": 1}, "fallback": False},
                   "soft": {"variants": {"a": 1}}}  # soft: the routing default (fallback on)
    providers = {"a": FakeProvider("a", script=[ProviderAuthError, ProviderAuthError]),
                 "b": FakeProvider("b")}
    settings = compare_settings(tmp_path, fake_configs("a", "b"), experiments)
    async with started(settings, providers) as runtime:
        with pytest.raises(ProviderFailed):
            await serve(runtime, "pinned")
        rescued = await serve(runtime, "soft")
        stats = ExperimentStats(runtime.state)
        pinned = (await stats.report("pinned", settings.experiments["pinned"])).variants[0]
        soft = (await stats.report("soft", settings.experiments["soft"])).variants[0]
    assert rescued.removal.provider == "b" and rescued.variant == "a"
    assert (pinned.requests, pinned.failures, pinned.error_rate) == (1, 1, 1.0)
    assert (soft.requests, soft.fallbacks, soft.served, soft.error_rate) == (1, 1, 0, 1.0)


async def test_mirror_runs_after_the_answer_and_never_changes_it(tmp_path: Path) -> None:
    gate, events = asyncio.Event(), []
    mirror = GatedProvider("s", gate, events, opaque_mask)
    providers = {"a": FakeProvider("a"), "s": mirror}
    experiments = {"ab": {"variants": {"a": 1}, "mirror": ["s"], "mirror_share": 1.0}}
    settings = compare_settings(tmp_path, fake_configs("a", "s"), experiments)
    async with started(settings, providers) as runtime:
        # Would time out if the answer waited for the mirror (the gate opens only after it).
        served = await asyncio.wait_for(serve(runtime, key="k"), timeout=30)
        events.append("answered")
        gate.set()
        await runtime.experiments.drain(30)
        report = await ExperimentStats(runtime.state).report("ab", settings.experiments["ab"])
    assert events.index("answered") < events.index("mirror_done")
    assert served.removal.provider == "a"
    alpha = np.asarray(decode(served.removal.image.data).getchannel("A"))
    assert alpha[0, 0] == 0 and alpha[32, 32] == 255  # the variant's centre box, not the mirror's
    summary = report.variants[0].mirror[0]
    assert (summary.provider, summary.compared, summary.failed) == ("s", 1, 0)
    assert summary.mean_iou == pytest.approx(0.25)  # box of 32x32 inside the 64x64 frame
    assert summary.mean_abs_diff == pytest.approx(0.75)


async def test_a_failing_mirror_is_counted_and_the_client_never_sees_it(tmp_path: Path) -> None:
    providers = {"a": FakeProvider("a"), "s": FakeProvider("s", script=[ProviderAuthError])}
    experiments = {"ab": {"variants": {"a": 1}, "mirror": ["s"], "mirror_share": 1.0}}
    settings = compare_settings(tmp_path, fake_configs("a", "s"), experiments)
    async with started(settings, providers) as runtime:
        served = await serve(runtime)
        await runtime.experiments.drain(30)
        report = await ExperimentStats(runtime.state).report("ab", settings.experiments["ab"])
    assert served.removal.provider == "a"
    assert report.variants[0].mirror[0].failed == 1
    assert report.variants[0].mirror[0].mean_iou is None


async def test_mirror_share_zero_sends_nothing(tmp_path: Path) -> None:
    providers = {"a": FakeProvider("a"), "s": FakeProvider("s")}
    experiments = {"ab": {"variants": {"a": 1}, "mirror": ["s"], "mirror_share": 0.0}}
    settings = compare_settings(tmp_path, fake_configs("a", "s"), experiments)
    async with started(settings, providers) as runtime:
        for _ in range(5):
            await serve(runtime)
        await runtime.experiments.drain(30)
    assert providers["s"].calls == []
