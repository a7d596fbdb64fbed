"""The Router: snapshot state, select candidates, dispatch with failover under one deadline."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import NoReturn

import structlog
from limits import parse as parse_rate

from gateway.errors import (
    Attempt,
    NoProviderAvailable,
    ProviderFailed,
    ProviderTimedOut,
)
from gateway.postprocess.answer import Answer
from gateway.router.health import TRANSIENT, read_snapshot, record_failure, record_success
from gateway.router.select import select
from gateway.router.types import Built, Dispatched, Entry, Offer, ProviderStatus, RouteHints
from gateway.settings import RoutingSettings
from gateway.state.base import StateBackend
from providers.base import Provider, ProviderConfig, ProviderResult
from providers.errors import ProviderError, ProviderProtocolError, ProviderTimeout

log = structlog.get_logger("gateway.router")

#: Outcomes that mean "not available now" rather than "broken" (503, not 502).
_UNAVAILABLE = frozenset({"rate_limited", "out_of_credits", "busy"})


def _unavailable_now(error: ProviderError) -> bool:
    """Rate limited, out of credits, or a 5xx that said when to come back."""
    return error.reason in _UNAVAILABLE or error.retry_after is not None


def _type_name(config: ProviderConfig, provider: Provider | None) -> str:
    tag = type(config).__struct_config__.tag
    if isinstance(tag, str):
        return tag
    return type(provider).__name__ if provider is not None else "unknown"


def make_entries(
    providers: Mapping[str, Provider], configs: Mapping[str, ProviderConfig]
) -> list[Entry]:
    """Routing entries in config order; knobs from config, else from the capabilities."""
    order = list(configs) + [n for n in providers if n not in configs]
    entries = []
    for name in sorted(providers, key=order.index):
        provider = providers[name]
        caps = provider.capabilities
        config = configs.get(name)
        rate_limit = (config.rate_limit if config else None) or caps.rate_limit
        entries.append(Entry(
            name=name,
            provider=provider,
            capabilities=caps,
            type=_type_name(config or ProviderConfig(), provider),
            index=order.index(name),
            priority=config.priority if config else ProviderConfig().priority,
            weight=config.weight if config else 1.0,
            cost=config.cost if config else caps.cost,
            rate_limit=rate_limit,
            limit=parse_rate(rate_limit) if rate_limit else None,
            budget=config.budget if config else None,
        ))
    return entries


class Router:
    """Routes one request to a provider, failing over between candidates."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        configs: Mapping[str, ProviderConfig],
        settings: RoutingSettings,
        state: StateBackend,
        disabled: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._configs = dict(configs)
        self._settings = settings
        self._state = state
        self._disabled = dict(disabled or {})
        self._rng = rng or random.Random(settings.seed)
        self._entries = make_entries(providers, configs)

    def candidates(self, hints: RouteHints) -> list[Provider]:
        """Static filter and policy order, as if every provider were healthy (no state read).

        Raises the client's errors (unknown or disallowed provider, policy override refused,
        nothing can serve the options): the flow calls it before the cache is consulted.
        """
        selection = select(self._entries, hints, {}, self._settings, self._rng, self._disabled)
        return [e.provider for e in selection.candidates]

    async def dispatch(self, offer: Offer, hints: RouteHints, deadline: float) -> Dispatched:
        """Call candidates in order until one answers usably; raise a GatewayError when none does.

        Each attempt builds its request (`offer.build`), calls the provider and checks the answer
        (`offer.check`): an unusable 200 is the attempt's outcome `bad_answer`, which counts
        against the provider and falls over to the next candidate like any other failure.
        """
        settings = self._settings
        snapshot = await read_snapshot(self._state, self._entries)
        selection = select(self._entries, hints, snapshot, settings, self._rng, self._disabled)
        trail: list[Attempt] = list(selection.skipped)
        back_in = [] if selection.retry_after_s is None else [selection.retry_after_s]
        queue = list(selection.candidates)
        again: list[Entry] = []
        broken = False  # some call failed in a way that is not "come back later"
        tried: set[str] = set()
        calls = 0
        while calls < settings.max_attempts:
            if not queue:
                queue, again = again, []
            if not queue:
                break
            entry = queue.pop(0)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # A retry of a provider is never a second half-open trial.
            trial = snapshot[entry.name].circuit == "half_open" and entry.name not in tried
            skip = await self._admit(entry, trial, remaining)
            if skip is not None:
                trail.append(Attempt(provider=entry.name, outcome=f"skipped:{skip[0]}"))
                if skip[1] is not None:
                    back_in.append(skip[1])
                continue
            calls += 1
            tried.add(entry.name)
            built = offer.build(entry.provider)
            outcome = await self._call(entry, built, offer, remaining)
            if isinstance(outcome[0], tuple):
                (result, answer), latency_ms = outcome
                trail.append(Attempt(provider=entry.name, outcome="ok", latency_ms=latency_ms))
                await record_success(self._state, settings, entry, result, latency_ms, trial)
                return Dispatched(
                    provider=entry.provider, plan=built.plan, request=built.request,
                    result=result, answer=answer, attempts=tuple(trail),
                )
            error, latency_ms = outcome
            trail.append(Attempt(provider=entry.name, outcome=error.reason, latency_ms=latency_ms))
            log.warning("provider_attempt_failed", provider=entry.name, reason=error.reason,
                        status=error.status, latency_ms=round(latency_ms, 1))
            back = await record_failure(self._state, settings, entry, error, latency_ms, trial)
            if back is not None:
                back_in.append(back)
            broken = broken or not _unavailable_now(error)
            if not error.fallback:
                raise ProviderFailed(
                    f"provider {entry.name} rejected the image as one it cannot process",
                    attempts=tuple(trail),
                )
            if not selection.fallback:
                queue = []
            if error.reason in TRANSIENT and back is None:
                again.append(entry)
        self._raise_exhausted(tuple(trail), back_in, deadline, broken)

    async def _admit(
        self, entry: Entry, trial: bool, remaining: float
    ) -> tuple[str, float | None] | None:
        """Claim the half-open trial and one rate-limit unit; (why, back in s) when refused."""
        if trial and not await self._state.claim_trial(entry.name, remaining + 1.0):
            return "cooldown", None
        if entry.limit is not None and not await self._state.rate_hit(entry.limit, entry.name):
            if trial:
                await self._state.release_trial(entry.name)
            stats = await self._state.rate_window(entry.limit, entry.name)
            return "rate_limited", max(0.0, stats.reset_time - time.time())
        return None

    async def _call(
        self, entry: Entry, built: Built, offer: Offer, remaining: float
    ) -> tuple[tuple[ProviderResult, Answer], float] | tuple[ProviderError, float]:
        """One provider call under the remaining time, its answer checked; errors are values."""
        start = time.monotonic()
        try:
            async with asyncio.timeout(remaining):
                result = await entry.provider.remove_background(built.request)
            answer = offer.check(built, result)
        except TimeoutError:
            error: ProviderError = ProviderTimeout("request deadline reached", provider=entry.name)
        except ProviderError as exc:
            error = exc
        except Exception as exc:
            # An adapter bug must not stop failover; only the type is logged (no vendor text).
            log.error("provider_adapter_bug", provider=entry.name, error=type(exc).__name__)
            error = ProviderProtocolError("adapter failed unexpectedly", provider=entry.name)
        else:
            return (result, answer), (time.monotonic() - start) * 1000
        return error, (time.monotonic() - start) * 1000

    def _raise_exhausted(
        self, attempts: tuple[Attempt, ...], back_in: list[float], deadline: float, broken: bool
    ) -> NoReturn:
        """Pick 503 / 504 / 502 for a request no provider answered."""
        outcomes = [a.outcome for a in attempts if not a.outcome.startswith("skipped:")]
        retry_after = min(back_in) if back_in else None
        spent = time.monotonic() >= deadline
        if not outcomes:
            if spent:
                raise ProviderTimedOut("the deadline passed before a provider could be called",
                                       attempts=attempts)
            raise NoProviderAvailable(
                "every candidate is cooling down, rate limited or over budget",
                attempts=attempts, retry_after=retry_after,
            )
        if outcomes[-1] == "timeout" and (spent or all(o == "timeout" for o in outcomes)):
            raise ProviderTimedOut("no provider answered before the deadline", attempts=attempts)
        if not broken:
            raise NoProviderAvailable(
                "every provider tried is rate limited, out of credits or asked us to wait",
                attempts=attempts, retry_after=retry_after,
            )
        raise ProviderFailed("every provider attempt failed", attempts=attempts)

    async def describe(self) -> list[ProviderStatus]:
        """Every configured provider with its live state, in config order."""
        snapshot = await read_snapshot(self._state, self._entries, all_spend=True)
        statuses = {}
        for entry in self._entries:
            health = snapshot[entry.name]
            statuses[entry.name] = ProviderStatus(
                name=entry.name, type=entry.type, enabled=True,
                capabilities=entry.capabilities, cost=entry.cost, priority=entry.priority,
                circuit=health.circuit,
                cooldown_s=round(health.cooldown.remaining_s, 3) if health.cooldown else 0.0,
                rate_limit=entry.rate_limit, headroom=health.headroom,
                latency_ewma_ms=health.latency_ms, spend=health.spend,
                budget=entry.budget.amount if entry.budget else None, disabled_reason=None,
            )
        for name, reason in self._disabled.items():
            config = self._configs.get(name, ProviderConfig())
            statuses[name] = ProviderStatus(
                name=name, type=_type_name(config, None), enabled=False, capabilities=None,
                cost=config.cost, priority=config.priority, circuit="closed", cooldown_s=0.0,
                rate_limit=config.rate_limit, headroom=None, latency_ewma_ms=None, spend=0.0,
                budget=config.budget.amount if config.budget else None, disabled_reason=reason,
            )
        order = list(self._configs)
        return sorted(statuses.values(),
                      key=lambda s: order.index(s.name) if s.name in order else len(order))
