"""Pure candidate selection: pins -> capabilities -> policy order -> cooldown, budget, rate."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from gateway.errors import Attempt, InvalidOption, UnsupportedOptions
from gateway.router.policies import ORDERS, PolicyInput
from gateway.router.types import Entry, Health, RouteHints, Selection
from gateway.settings import RoutingSettings


def resolve_policy(hints: RouteHints, settings: RoutingSettings) -> str:
    """The policy for this request: the configured one unless an allowed override names another."""
    if hints.policy is None or hints.policy == settings.policy:
        return settings.policy
    if hints.policy not in ORDERS:
        raise InvalidOption(f"policy: unknown policy {hints.policy!r}; use one of {sorted(ORDERS)}")
    if not settings.allow_policy_override:
        raise InvalidOption("policy: choosing a routing policy per request is not allowed here")
    return hints.policy


def resolve_fallback(hints: RouteHints, settings: RoutingSettings) -> bool:
    """A pinned provider gets no fallback unless the request asks for it."""
    if hints.fallback is not None:
        return hints.fallback
    return False if hints.provider else settings.fallback


def _pinned_pool(
    entries: Sequence[Entry], hints: RouteHints, disabled: Mapping[str, str], fallback: bool
) -> list[Entry]:
    """Apply `provider` / `providers`; unknown names are the client's mistake (400)."""
    by_name = {e.name: e for e in entries}
    named = ([hints.provider] if hints.provider else []) + list(hints.providers or ())
    for name in named:
        if name not in by_name and name not in disabled:
            option = "provider" if name == hints.provider else "providers"
            raise InvalidOption(f"{option}: unknown provider {name!r}")
    pool = list(entries)
    if hints.providers:
        pool = [by_name[n] for n in dict.fromkeys(hints.providers) if n in by_name]
    if hints.provider:
        if hints.provider not in by_name:
            raise UnsupportedOptions(f"provider {hints.provider!r} is disabled")
        pinned = by_name[hints.provider]
        pool = [pinned] + [e for e in pool if e is not pinned] if fallback else [pinned]
    if not pool:
        raise UnsupportedOptions("every provider in `providers` is disabled")
    return pool


def _cannot_serve(entry: Entry, hints: RouteHints) -> str | None:
    """Why `entry` cannot take this request at all, or None."""
    caps = entry.capabilities
    if caps.requires_trimap and not hints.has_trimap:
        return "needs a trimap"
    if caps.max_input_bytes is not None and hints.image_bytes > caps.max_input_bytes:
        return f"takes at most {caps.max_input_bytes} bytes"
    if caps.max_megapixels is not None and hints.megapixels > caps.max_megapixels:
        return f"takes at most {caps.max_megapixels:g} megapixels"
    return None


def _prefer(entry: Entry, hints: RouteHints) -> tuple[bool, bool]:
    """Sort key after the policy: native trimap matting first, then the input format as is."""
    caps = entry.capabilities
    return (hints.has_trimap and "trimap" not in caps.native,
            hints.image_format not in caps.input_formats)


def _unavailable(entry: Entry, health: Health) -> tuple[str, float | None] | None:
    """Why `entry` is out right now and when it is back (seconds), or None."""
    if health.circuit == "open" or health.cooldown is not None:
        return "cooldown", health.cooldown.remaining_s if health.cooldown else None
    if entry.budget is not None and (
        health.spend >= entry.budget.amount or health.spend + entry.cost > entry.budget.amount
    ):
        return "budget", health.budget_reset_s or None
    if health.headroom is not None and health.headroom <= 0:
        return "rate_limited", health.rate_reset_s or None
    return None


def select(
    entries: Sequence[Entry],
    hints: RouteHints,
    snapshot: Mapping[str, Health],
    settings: RoutingSettings,
    rng: random.Random,
    disabled: Mapping[str, str] | None = None,
) -> Selection:
    """Ordered candidates for `hints`; raises InvalidOption / UnsupportedOptions (client faults)."""
    policy = resolve_policy(hints, settings)
    fallback = resolve_fallback(hints, settings)
    pool = _pinned_pool(entries, hints, disabled or {}, fallback)
    reasons = {e.name: _cannot_serve(e, hints) for e in pool}
    servable = [e for e in pool if reasons[e.name] is None]
    if not servable:
        why = "; ".join(f"{name} {reason}" for name, reason in reasons.items())
        raise UnsupportedOptions(f"no provider can serve this request: {why}")
    how = PolicyInput(
        rng, settings.exploration, hints.routing_key,
        list(hints.providers) if hints.providers else None,
    )
    ordered = ORDERS[policy](servable, snapshot, how)
    ordered.sort(key=lambda e: (e.name != hints.provider, *_prefer(e, hints)))
    candidates: list[Entry] = []
    skipped: list[Attempt] = []
    back_in: list[float] = []
    for entry in ordered:
        out = _unavailable(entry, snapshot.get(entry.name, Health()))
        if out is None:
            candidates.append(entry)
            continue
        skipped.append(Attempt(provider=entry.name, outcome=f"skipped:{out[0]}"))
        if out[1] is not None:
            back_in.append(out[1])
    return Selection(
        candidates=tuple(candidates),
        skipped=tuple(skipped),
        retry_after_s=min(back_in) if back_in else None,
        fallback=fallback,
    )
