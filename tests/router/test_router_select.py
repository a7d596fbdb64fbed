"""Pure selection: every filter and policy, with the state passed in as a snapshot."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from gateway.errors import InvalidOption, UnsupportedOptions
from gateway.router import RouteHints, select
from gateway.router.router import make_entries
from gateway.router.types import Entry, Health
from gateway.settings import RoutingSettings
from gateway.state import Cooldown
from providers.base import Budget, Capabilities, ProviderConfig
from tests.fakes import FakeProvider

CUTOUT = Capabilities(output="cutout")


def entries(**specs: ProviderConfig | tuple[ProviderConfig, Capabilities]) -> list[Entry]:
    """Entries in keyword order: name=config or name=(config, capabilities)."""
    providers, configs = {}, {}
    for name, spec in specs.items():
        config, caps = spec if isinstance(spec, tuple) else (spec, CUTOUT)
        providers[name] = FakeProvider(name, capabilities=caps)
        configs[name] = config
    return make_entries(providers, configs)


def names(
    pool: list[Entry], hints: RouteHints | None = None, snapshot: dict[str, Health] | None = None,
    seed: int = 1, disabled: dict[str, str] | None = None, **routing: object,
) -> list[str]:
    hints = hints or RouteHints()
    settings = RoutingSettings(**routing)  # type: ignore[arg-type]
    chosen = select(pool, hints, snapshot or {}, settings, random.Random(seed), disabled)
    return [e.name for e in chosen.candidates]


THREE = entries(
    a=ProviderConfig(priority=30, cost=1.0),
    b=ProviderConfig(priority=10, cost=3.0),
    c=ProviderConfig(priority=10, cost=1.0),
)


def test_priority_orders_by_number_then_config_order() -> None:
    assert names(THREE) == ["b", "c", "a"]


def test_priority_with_allow_list_uses_its_order() -> None:
    assert names(THREE, RouteHints(providers=("a", "c"))) == ["a", "c"]


def test_cheapest_ties_broken_by_priority() -> None:
    assert names(THREE, policy="cheapest") == ["c", "a", "b"]


def test_fastest_prefers_low_ewma_and_untried_first() -> None:
    snapshot = {"a": Health(latency_ms=50.0), "b": Health(latency_ms=900.0)}
    assert names(THREE, snapshot=snapshot, policy="fastest", exploration=0.0) == ["c", "a", "b"]


def test_fastest_explores_a_slow_provider_sometimes() -> None:
    snapshot = {"a": Health(latency_ms=50.0), "b": Health(latency_ms=900.0),
                "c": Health(latency_ms=60.0)}
    settings = RoutingSettings(policy="fastest", exploration=0.2)
    rng = random.Random(7)
    firsts = Counter(
        select(THREE, RouteHints(), snapshot, settings, rng).candidates[0].name
        for _ in range(2000)
    )
    # 20 % explore (a random other provider first), 80 % exploit the fastest.
    assert 1500 < firsts["a"] < 1700
    assert 150 < firsts["b"] < 250 and 150 < firsts["c"] < 250


def test_weighted_follows_weights_with_seeded_rng() -> None:
    pool = entries(heavy=ProviderConfig(weight=3.0), light=ProviderConfig(weight=1.0))
    settings = RoutingSettings(policy="weighted")

    def run(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [select(pool, RouteHints(), {}, settings, rng).candidates[0].name
                for _ in range(4000)]

    firsts = run(42)
    assert 0.70 < firsts.count("heavy") / 4000 < 0.80
    assert run(42) == firsts
    assert run(43) != firsts


def test_weighted_is_sticky_per_routing_key() -> None:
    pool = entries(x=ProviderConfig(weight=1.0), y=ProviderConfig(weight=1.0),
                   z=ProviderConfig(weight=1.0))
    picks = {}
    for key in (f"customer-{i}" for i in range(200)):
        hints = RouteHints(routing_key=key)
        runs = {names(pool, hints, seed=s, policy="weighted")[0] for s in range(5)}
        assert len(runs) == 1
        picks[key] = runs.pop()
    spread = Counter(picks.values())
    assert set(spread) == {"x", "y", "z"}
    # Removing one provider only moves the keys that were on it.
    without_z = [e for e in pool if e.name != "z"]
    for key, pick in picks.items():
        if pick != "z":
            assert names(without_z, RouteHints(routing_key=key), policy="weighted")[0] == pick


def test_zero_weight_goes_last() -> None:
    pool = entries(off=ProviderConfig(weight=0.0), on=ProviderConfig(weight=1.0))
    for seed in range(20):
        assert names(pool, seed=seed, policy="weighted") == ["on", "off"]


def test_policy_override_needs_permission() -> None:
    with pytest.raises(InvalidOption):
        names(THREE, RouteHints(policy="cheapest"))
    assert names(THREE, RouteHints(policy="cheapest"), allow_policy_override=True)[0] == "c"
    with pytest.raises(InvalidOption):
        names(THREE, RouteHints(policy="random"), allow_policy_override=True)


def test_requires_trimap_is_not_a_candidate_without_trimap() -> None:
    needs = Capabilities(output="mask", native=frozenset({"trimap"}), requires_trimap=True)
    pool = entries(matting=(ProviderConfig(priority=1), needs), plain=ProviderConfig(priority=5))
    assert names(pool) == ["plain"]
    assert names(pool, RouteHints(has_trimap=True)) == ["matting", "plain"]


def test_trimap_requests_prefer_native_trimap_providers() -> None:
    native = Capabilities(output="mask", native=frozenset({"trimap"}))
    pool = entries(first=ProviderConfig(priority=1), trimappy=(ProviderConfig(priority=9), native))
    assert names(pool) == ["first", "trimappy"]
    assert names(pool, RouteHints(has_trimap=True)) == ["trimappy", "first"]


def test_only_trimap_providers_without_trimap_is_unsupported() -> None:
    needs = Capabilities(output="mask", requires_trimap=True)
    pool = entries(matting=(ProviderConfig(), needs))
    with pytest.raises(UnsupportedOptions, match="needs a trimap"):
        names(pool)


def test_bytes_and_megapixels_filter_input_format_only_reorders() -> None:
    small = Capabilities(output="cutout", max_input_bytes=1000, max_megapixels=1.0,
                         input_formats=frozenset({"jpeg", "png"}))
    pool = entries(small=(ProviderConfig(priority=1), small), big=ProviderConfig(priority=2))
    assert names(pool, RouteHints(image_bytes=900, megapixels=0.5)) == ["small", "big"]
    assert names(pool, RouteHints(image_bytes=2000, megapixels=0.5)) == ["big"]
    assert names(pool, RouteHints(image_bytes=10, megapixels=2.0)) == ["big"]
    assert names(pool, RouteHints(image_format="tiff")) == ["big", "small"]


def test_pinned_provider_only_itself_unless_fallback() -> None:
    assert names(THREE, RouteHints(provider="a")) == ["a"]
    assert names(THREE, RouteHints(provider="a", fallback=True)) == ["a", "b", "c"]
    chosen = select(THREE, RouteHints(provider="a"), {}, RoutingSettings(), random.Random(0))
    assert chosen.fallback is False
    unpinned = select(THREE, RouteHints(), {}, RoutingSettings(), random.Random(0))
    assert unpinned.fallback is True


def test_unknown_pin_is_invalid_option_and_disabled_pin_unsupported() -> None:
    with pytest.raises(InvalidOption, match="provider"):
        names(THREE, RouteHints(provider="nope"))
    with pytest.raises(InvalidOption, match="providers"):
        names(THREE, RouteHints(providers=("a", "nope")))
    with pytest.raises(UnsupportedOptions, match="disabled"):
        names(THREE, RouteHints(provider="off"), disabled={"off": "no API key"})
    with pytest.raises(UnsupportedOptions):
        names(THREE, RouteHints(providers=("off",)), disabled={"off": "no API key"})


def test_cooldown_rate_limit_and_budget_are_skipped_with_reasons() -> None:
    pool = entries(
        cool=ProviderConfig(priority=1),
        limited=ProviderConfig(priority=2, rate_limit="7/minute"),
        broke=ProviderConfig(priority=3, cost=1.0, budget=Budget(amount=10.0, period="day")),
        fine=ProviderConfig(priority=4),
    )
    snapshot = {
        "cool": Health(cooldown=Cooldown(remaining_s=12.0, reason="rate_limited")),
        "limited": Health(headroom=0, rate_reset_s=4.5),
        "broke": Health(spend=10.0, budget_reset_s=3600.0),
    }
    chosen = select(pool, RouteHints(), snapshot, RoutingSettings(), random.Random(0))
    assert [e.name for e in chosen.candidates] == ["fine"]
    assert [(a.provider, a.outcome) for a in chosen.skipped] == [
        ("cool", "skipped:cooldown"), ("limited", "skipped:rate_limited"),
        ("broke", "skipped:budget"),
    ]
    assert chosen.retry_after_s == pytest.approx(4.5)


def test_budget_keeps_provider_while_one_more_image_fits() -> None:
    pool = entries(p=ProviderConfig(cost=2.0, budget=Budget(amount=10.0)))
    assert names(pool, snapshot={"p": Health(spend=8.0)}) == ["p"]
    assert names(pool, snapshot={"p": Health(spend=8.5)}) == []


def test_half_open_is_a_candidate_open_is_not() -> None:
    pool = entries(p=ProviderConfig())
    assert names(pool, snapshot={"p": Health(circuit="half_open")}) == ["p"]
    cooling = Health(circuit="open", cooldown=Cooldown(remaining_s=5.0, reason="circuit_open"))
    assert names(pool, snapshot={"p": cooling}) == []


def test_config_knobs_win_over_capabilities() -> None:
    caps = Capabilities(output="cutout", cost=9.0, rate_limit="1/second")
    pool = entries(p=(ProviderConfig(cost=2.0, rate_limit="7/minute"), caps),
                   q=(ProviderConfig(cost=1.0), caps))
    assert pool[0].cost == 2.0 and pool[0].rate_limit == "7/minute"
    assert pool[1].rate_limit == "1/second"
    assert pool[0].limit is not None and pool[0].limit.amount == 7
