"""Live experiments: sticky variant assignment, outcome counters and mirror traffic.

`Experiments` belongs to the Runtime and wraps the removal flow from outside: `Runtime.remove`
calls `Experiments.run` when a request names an experiment, else the flow directly. Inside an
experiment the chosen variant is pinned, the outcome counted and, for a sample of the answered
requests, the request is mirrored (copied) to the experiment's `mirror` providers in background
tasks that start only once the answer is on its way and can neither delay nor fail it.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Collection, Coroutine, Mapping
from typing import Any

import anyio.to_thread
import msgspec
import structlog

from gateway.auth import Client
from gateway.compare.mattes import agreement, metrics_blocker, served_matte
from gateway.compare.stats import ExperimentStats
from gateway.errors import GatewayError, InvalidOption, UnsupportedOptions, UpstreamError
from gateway.postprocess import probe_image
from gateway.router import RouteHints
from gateway.service import RemovalCall, RemovalService, Served
from gateway.settings import ExperimentSettings, Settings
from gateway.state.base import StateBackend

log = structlog.get_logger("gateway.experiments")
#: Mirror calls in flight per gateway instance; samples beyond it are dropped (and counted).
MAX_MIRRORS_IN_FLIGHT = 8


def experiments_of(settings: Settings) -> Mapping[str, ExperimentSettings]:
    """The configured experiments (`[experiments.NAME]`)."""
    return settings.experiments


def experiment_name(headers: Mapping[str, str], option: str | None) -> str | None:
    """The experiment a request joins: the `experiment` option, else the `X-Experiment` header."""
    name = (option or headers.get("x-experiment") or "").strip()
    return name or None


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


class MirrorCall(msgspec.Struct, frozen=True):
    """One mirror copy of a served request."""

    experiment: str
    variant: str
    mirror: str
    call: RemovalCall
    served: bytes
    """The answer the client got, to measure agreement against."""


def _agreement(served: bytes, mirror: bytes, source: bytes) -> tuple[float, float] | None:
    width, height = displayed_size(source)
    a, b = served_matte(served, width, height), served_matte(mirror, width, height)
    if a is None or b is None:
        return None
    agreed = agreement(a, b)
    return agreed.iou, agreed.mad


def displayed_size(image: bytes) -> tuple[int, int]:
    """Width and height of an (already validated) image as displayed, from its header."""
    info, _ = probe_image(image, len(image), 1 << 40)
    return info.width, info.height


class Experiments:
    """Per-instance experiment machinery: variant choice, counters, mirror tasks in flight."""

    def __init__(
        self, settings: Settings, service: RemovalService, state: StateBackend,
        providers: Collection[str], rng: random.Random | None = None,
        max_in_flight: int = MAX_MIRRORS_IN_FLIGHT,
    ) -> None:
        self.settings = settings
        self.service = service
        self.stats = ExperimentStats(state)
        self.providers = list(providers)
        self.rng = rng or random.Random(settings.routing.seed)
        self.max_in_flight = max_in_flight
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        """Mirror calls still running."""
        return len(self._tasks)

    async def run(self, name: str, call: RemovalCall) -> Served:
        """`call` inside experiment `name`: pin a variant, count the outcome, mirror a sample."""
        config = experiments_of(self.settings).get(name)
        if config is None:
            raise InvalidOption(f"unknown experiment {name!r}")
        if not config.enabled:
            return await self.service.remove_one(call)
        hints = call.hints
        if hints.provider:
            raise InvalidOption("option `provider` cannot be combined with an experiment")
        variant = choose_variant(name, config, hints.routing_key, self.rng,
                                 self._available(call.client))
        fallback = next(v for v in (hints.fallback, config.fallback,
                                    self.settings.routing.fallback) if v is not None)
        pinned = msgspec.structs.replace(hints, provider=variant, fallback=fallback)
        try:
            served = await self.service.remove_one(msgspec.structs.replace(call, hints=pinned))
        except UpstreamError:
            await self.stats.record_failed(name, variant)
            raise
        removal = served.removal
        await self.stats.record_served(name, variant, removal.provider, removal.total_ms,
                                       removal.cost, served.cache_hit)
        if config.mirror and self.rng.random() < config.mirror_share:
            await self._mirror(name, variant, config, call, served)
        served.experiment, served.variant = name, variant
        return served

    async def _mirror(self, name: str, variant: str, config: ExperimentSettings,
                      call: RemovalCall, served: Served) -> None:
        image = served.removal.image
        for mirror in config.mirror:
            copy = msgspec.structs.replace(
                call, request_id=f"{call.request_id}.mirror.{mirror}",
                hints=RouteHints(provider=mirror, fallback=False), client=None,
                use_cache=False, ledger_client=f"mirror:{name}",
            )
            job = MirrorCall(name, variant, mirror, copy, image.data)
            if not self.launch(self._run_mirror(job)):
                await self.stats.record_mirror(name, variant, mirror, "dropped")

    async def _run_mirror(self, job: MirrorCall) -> None:
        """Send the copy to the mirror provider (pinned, no fallback); record its agreement."""
        try:
            served = await self.service.remove_one(job.call)
        except GatewayError as exc:
            log.info("mirror_failed", experiment=job.experiment, mirror=job.mirror,
                     code=exc.code)
            await self.stats.record_mirror(job.experiment, job.variant, job.mirror, "failed")
            return
        removal = served.removal
        agreed = None
        if metrics_blocker(job.call.options) is None:
            agreed = await anyio.to_thread.run_sync(
                _agreement, job.served, removal.image.data, job.call.image
            )
        outcome = "unscored" if agreed is None else "compared"
        await self.stats.record_mirror(job.experiment, job.variant, job.mirror, outcome, agreed,
                                       removal.cost)

    def _available(self, client: Client | None) -> list[str]:
        allowed = client.settings.allowed_providers if client else None
        return [name for name in self.providers if not allowed or name in allowed]

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
        """Wait for the mirror calls in flight (at shutdown and in tests), then cancel the rest."""
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout_s)
        for task in late:
            task.cancel()


async def _guarded(work: Coroutine[Any, Any, None]) -> None:
    # Give the loop back once: the request that launched this returns before any mirror work.
    await asyncio.sleep(0)
    try:
        await work
    except Exception as exc:  # a mirror bug must never surface anywhere but the log
        log.error("mirror_crashed", error=type(exc).__name__)
