"""Live experiments: sticky variant assignment, outcome counters and shadow traffic.

The route hook is `handle_with_experiment`: with no experiment named it is `handle_removal`;
with one it pins the chosen variant, counts the outcome and, for a sample of the answered
requests, copies the request to the shadow providers in a background task that starts only
once the answer is on its way and can neither delay nor fail it.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio.to_thread
import msgspec
import structlog
from litestar import Litestar

from gateway.auth import Client
from gateway.compare.mattes import agreement, metrics_blocker, served_matte
from gateway.compare.stats import ExperimentStats
from gateway.errors import GatewayError, InvalidOption, UnsupportedOptions, UpstreamError
from gateway.handling import Served, handle_removal
from gateway.ledger import UsageRecord
from gateway.router import RouteHints
from gateway.runtime import Runtime
from gateway.settings import ExperimentSettings, Settings
from gateway.state.base import StateBackend
from providers.base import OutputOptions

log = structlog.get_logger("gateway.experiments")
#: Shadow calls in flight per gateway instance; samples beyond it are dropped (and counted).
MAX_SHADOWS_IN_FLIGHT = 8


class ExperimentServed(Served):
    """A removal served inside an experiment: which one, and the variant it was assigned."""

    experiment: str = ""
    variant: str = ""


def experiments_of(settings: Settings) -> Mapping[str, ExperimentSettings]:
    """The configured experiments (`[experiments.NAME]`)."""
    configured: Mapping[str, ExperimentSettings] | None = getattr(settings, "experiments", None)
    return configured or {}


def experiment_name(headers: Mapping[str, str], option: str | None) -> str | None:
    """The experiment a request joins: the `experiment` option, else the `X-Experiment` header."""
    name = (option or headers.get("x-experiment") or "").strip()
    return name or None


def experiment_headers(served: Served) -> dict[str, str]:
    """`X-Experiment` and `X-Variant` for an answer served inside an experiment, else none."""
    if isinstance(served, ExperimentServed):
        return {"X-Experiment": served.experiment, "X-Variant": served.variant}
    return {}


def _hash_point(experiment: str, routing_key: str) -> float:
    digest = hashlib.sha256(f"{experiment}\x00{routing_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_variant(
    name: str, experiment: ExperimentSettings, routing_key: str | None, rng: random.Random,
    available: Collection[str],
) -> str:
    """Weighted pick among the available variants: sticky by `routing_key`, else random."""
    variants = [(p, w) for p, w in experiment.variants.items() if p in available]
    if not variants:
        raise UnsupportedOptions(f"experiment {name!r}: none of its variants is available")
    total = sum(weight for _, weight in variants)
    point = (_hash_point(name, routing_key) if routing_key else rng.random()) * total
    for provider, weight in variants:
        point -= weight
        if point < 0:
            return provider
    return variants[-1][0]


class ExperimentRunner:
    """Per-instance experiment machinery: the sampling RNG and the shadow tasks in flight."""

    def __init__(self, rng: random.Random | None = None,
                 max_in_flight: int = MAX_SHADOWS_IN_FLIGHT) -> None:
        self.rng = rng or random.Random()
        self.max_in_flight = max_in_flight
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        """Shadow calls still running."""
        return len(self._tasks)

    def launch(self, work: Coroutine[Any, Any, None]) -> bool:
        """Run `work` in the background (kept referenced until done); False when full."""
        if len(self._tasks) >= self.max_in_flight:
            work.close()
            return False
        task = asyncio.get_running_loop().create_task(_guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait for the shadow calls in flight (at shutdown and in tests), then cancel the rest."""
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout_s)
        for task in late:
            task.cancel()


async def _guarded(work: Coroutine[Any, Any, None]) -> None:
    # Give the loop back once: the request that launched this returns before any shadow work.
    await asyncio.sleep(0)
    try:
        await work
    except Exception as exc:  # a shadow bug must never surface anywhere but the log
        log.error("shadow_crashed", error=type(exc).__name__)


_RUNNERS: weakref.WeakKeyDictionary[Runtime, ExperimentRunner] = weakref.WeakKeyDictionary()


def experiment_runner(runtime: Runtime) -> ExperimentRunner:
    """The runner of `runtime` (made on first use, lives as long as the runtime)."""
    runner = _RUNNERS.get(runtime)
    if runner is None:
        runner = _RUNNERS[runtime] = ExperimentRunner(random.Random(runtime.settings.routing.seed))
    return runner


class ShadowCall(msgspec.Struct, frozen=True):
    """One shadow copy of a served request."""

    experiment: str
    variant: str
    shadow: str
    image: bytes
    trimap: bytes | None
    options: OutputOptions
    served: bytes
    """The answer the client got, to measure agreement against."""
    request_id: str


def _agreement(served: bytes, shadow: bytes, width: int, height: int) -> tuple[float, float] | None:
    a, b = served_matte(served, width, height), served_matte(shadow, width, height)
    if a is None or b is None:
        return None
    agreed = agreement(a, b)
    return agreed.iou, agreed.mad


async def run_shadow(runtime: Runtime, call: ShadowCall) -> None:
    """Send the copy to the shadow provider (pinned, no fallback) and record its agreement."""
    stats = ExperimentStats(_state(runtime))
    service = runtime.service
    request_id = f"{call.request_id}.shadow.{call.shadow}"
    hints = RouteHints(provider=call.shadow, fallback=False)
    try:
        job = await service.validate(call.image, call.trimap, call.options, hints, request_id)
        removal = await service.remove(job)
    except GatewayError as exc:
        log.info("shadow_failed", experiment=call.experiment, shadow=call.shadow, code=exc.code)
        await stats.record_shadow(call.experiment, call.variant, call.shadow, "failed")
        return
    await runtime.ledger.record(UsageRecord(
        request_id=request_id, client=f"shadow:{call.experiment}", provider=call.shadow,
        cost=removal.cost, emulated=removal.image.emulated, timestamp=time.time(),
    ))
    agreed = None
    if metrics_blocker(call.options) is None:
        agreed = await anyio.to_thread.run_sync(
            _agreement, call.served, removal.image.data, job.info.width, job.info.height
        )
    outcome = "unscored" if agreed is None else "compared"
    await stats.record_shadow(call.experiment, call.variant, call.shadow, outcome, agreed,
                              removal.cost)


async def drain_shadows(runtime: Runtime, timeout_s: float = 30.0) -> None:
    """Wait for `runtime`'s shadow calls in flight (call before its providers close)."""
    runner = _RUNNERS.get(runtime)
    if runner is not None:
        await runner.drain(timeout_s)


def shadow_lifespan(runtime: Runtime) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A Litestar lifespan, listed after `runtime.lifespan`, that drains shadows at shutdown."""

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await drain_shadows(runtime, runtime.settings.server.shutdown_grace_s)

    return lifespan


def _state(runtime: Runtime) -> StateBackend:
    assert runtime.state is not None, "runtime not started"
    return runtime.state


def _available(runtime: Runtime, client: Client | None) -> list[str]:
    allowed = client.settings.allowed_providers if client else None
    return [name for name in runtime.providers if not allowed or name in allowed]


async def handle_with_experiment(
    runtime: Runtime, headers: Mapping[str, str], experiment: str | None, client: Client | None,
    image: bytes, trimap: bytes | None, options: OutputOptions, hints: RouteHints,
    request_id: str,
) -> Served:
    """`handle_removal`, inside the named experiment (option or `X-Experiment`) if there is one."""
    name = experiment_name(headers, experiment)
    config = experiments_of(runtime.settings).get(name) if name else None
    if name is not None and config is None:
        raise InvalidOption(f"unknown experiment {name!r}")
    if name is None or config is None or not config.enabled:
        return await handle_removal(runtime, headers, client, image, trimap, options, hints,
                                    request_id)
    if hints.provider:
        raise InvalidOption("option `provider` cannot be combined with an experiment")
    runner = experiment_runner(runtime)
    variant = choose_variant(name, config, hints.routing_key, runner.rng,
                             _available(runtime, client))
    fallback = next(v for v in (hints.fallback, config.fallback, runtime.settings.routing.fallback)
                    if v is not None)
    pinned = msgspec.structs.replace(hints, provider=variant, fallback=fallback)
    stats = ExperimentStats(_state(runtime))
    try:
        served = await handle_removal(runtime, headers, client, image, trimap, options, pinned,
                                      request_id)
    except UpstreamError:
        await stats.record_failed(name, variant)
        raise
    removal = served.removal
    await stats.record_served(name, variant, removal.provider, removal.total_ms, removal.cost,
                              served.cache_hit)
    if config.shadow and runner.rng.random() < config.shadow_share:
        for shadow in config.shadow:
            call = ShadowCall(name, variant, shadow, image, trimap, options,
                              removal.image.data, request_id)
            if not runner.launch(run_shadow(runtime, call)):
                await stats.record_shadow(name, variant, shadow, "dropped")
    return ExperimentServed(removal=removal, cache_hit=served.cache_hit, client=served.client,
                            experiment=name, variant=variant)
