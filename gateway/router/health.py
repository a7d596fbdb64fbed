"""Reading provider health from state (the snapshot) and writing outcomes back (circuit breaker)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import structlog

from gateway.router.types import Entry, Health
from gateway.settings import RoutingSettings
from gateway.state.base import SpendAdd, StateBackend
from gateway.state.memory import MemoryState
from providers.base import ProviderResult
from providers.errors import ProviderError

log = structlog.get_logger("gateway.router")

#: Errors worth a second try on the same provider when attempts and time are left.
TRANSIENT = frozenset({"timeout", "unavailable"})


#: period -> (key, end as a UNIX time): two requests per ms need no calendar arithmetic each.
_current_periods: dict[str, tuple[str, float]] = {}


def budget_period(period: str, now: datetime | None = None) -> tuple[str, float, float]:
    """(period key, seconds until the period ends, key TTL in seconds) for `day` or `month`."""
    if now is None:
        clock = time.time()
        current = _current_periods.get(period)
        if current is not None and clock < current[1]:
            left = current[1] - clock
            return current[0], left, left + 86400.0
        now = datetime.fromtimestamp(clock, UTC)
        key, end = _period_of(period, now)
        _current_periods[period] = (key, end.timestamp())
    else:
        key, end = _period_of(period, now)
    left = (end - now).total_seconds()
    return key, left, left + 86400.0


def _period_of(period: str, now: datetime) -> tuple[str, datetime]:
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return f"day:{start:%Y-%m-%d}", start + timedelta(days=1)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return f"month:{start:%Y-%m}", (start + timedelta(days=32)).replace(day=1)


async def _rate(state: StateBackend, entry: Entry) -> tuple[int | None, float]:
    if entry.limit is None:
        return None, 0.0
    stats = await state.rate_window(entry.limit, entry.name)
    return stats.remaining, max(0.0, stats.reset_time - time.time())


async def _spend(state: StateBackend, entry: Entry) -> tuple[float, float]:
    key, left, _ = budget_period(entry.budget.period if entry.budget else "month")
    return await state.get_spend(entry.name, key), left


async def read_snapshot(
    state: StateBackend, entries: Sequence[Entry], all_spend: bool = False
) -> dict[str, Health]:
    """Health of every entry; spend only for budgeted ones unless `all_spend`."""
    names = [e.name for e in entries]
    spent = [e for e in entries if all_spend or e.budget is not None]
    limited = any(e.limit is not None for e in entries)
    if isinstance(state, MemoryState) or not (limited or spent):
        # Nothing to wait for in memory, or one round trip: awaiting in turn spares the tasks.
        reads = await state.read_health(names)
        rates = [await _rate(state, e) for e in entries]
        spends = [await _spend(state, e) for e in spent]
    else:
        reads, rates, spends = await asyncio.gather(
            state.read_health(names),
            asyncio.gather(*(_rate(state, e) for e in entries)),
            asyncio.gather(*(_spend(state, e) for e in spent)),
        )
    cooldowns, circuits, latencies = reads.cooldowns, reads.open_circuits, reads.latencies
    spend_of = {e.name: s for e, s in zip(spent, spends, strict=True)}
    snapshot = {}
    for entry, (headroom, reset_s) in zip(entries, rates, strict=True):
        cooldown = cooldowns.get(entry.name)
        circuit = "closed"
        if entry.name in circuits:
            circuit = "open" if cooldown is not None else "half_open"
        spend, budget_reset_s = spend_of.get(entry.name, (0.0, 0.0))
        snapshot[entry.name] = Health(
            cooldown=cooldown, circuit=circuit, headroom=headroom, rate_reset_s=reset_s,
            spend=spend, budget_reset_s=budget_reset_s, latency_ms=latencies.get(entry.name),
        )
    return snapshot


async def record_success(
    state: StateBackend, settings: RoutingSettings, entry: Entry, result: ProviderResult,
    latency_ms: float, trial: bool,
) -> None:
    """Latency EWMA, spend, and closing a half-open circuit."""
    cost = result.cost if result.cost > 0 else entry.cost
    spend = None
    if cost > 0:
        key, _, ttl_s = budget_period(entry.budget.period if entry.budget else "month")
        spend = SpendAdd(key, cost, ttl_s)
    served = state.record_served(entry.name, latency_ms, settings.latency_alpha, spend)
    if not trial:
        await served
        return
    log.info("circuit_closed", provider=entry.name)
    if isinstance(state, MemoryState):
        await served
        await state.close_circuit(entry.name)
    else:
        await asyncio.gather(served, state.close_circuit(entry.name))


async def record_failure(
    state: StateBackend, settings: RoutingSettings, entry: Entry, error: ProviderError,
    latency_ms: float, trial: bool,
) -> float | None:
    """Cooldown / failure count / circuit for one failed call; return seconds until it is back."""
    name = entry.name
    if not error.fallback:
        # The vendor judged the image, not itself: no mark against the provider.
        if trial:
            await state.close_circuit(name)
        return None
    if error.reason == "timeout":
        await state.update_latency(name, latency_ms, settings.latency_alpha)
    back: float | None = None
    if error.reason == "out_of_credits":
        back = settings.out_of_credits_cooldown_s
        await state.set_cooldown(name, back, "out_of_credits")
    elif error.reason == "rate_limited":
        back = min(error.retry_after or settings.cooldown_s, settings.max_cooldown_s)
        await state.set_cooldown(name, back, "rate_limited")
    elif error.retry_after is not None:
        back = min(error.retry_after, settings.max_cooldown_s)
        await state.set_cooldown(name, back, error.reason)
    if trial:
        await state.open_circuit(name, settings.cooldown_s)
        log.warning("circuit_reopened", provider=name, reason=error.reason)
        return max(back or 0.0, settings.cooldown_s)
    # A busy local engine is healthy, only full: no mark towards opening its circuit.
    if error.reason in ("out_of_credits", "rate_limited", "busy"):
        return back
    failures = await state.add_failure(name, settings.fail_window_s)
    if failures >= settings.allowed_fails:
        await state.open_circuit(name, settings.cooldown_s)
        log.warning("circuit_opened", provider=name, failures=failures, reason=error.reason)
        return max(back or 0.0, settings.cooldown_s)
    return back
