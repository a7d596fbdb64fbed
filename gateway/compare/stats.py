"""Experiment counters in the shared state backend, and the per-variant report built from them.

Everything is a plain integer counter (atomic INCRBY in Redis), so every gateway instance adds
to the same figures: latency goes into fixed histogram buckets (p50/p95 are interpolated from
the bucket counts), money and agreement are summed in millionths.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Sequence

import msgspec

from gateway.settings import ExperimentSettings
from gateway.state.base import StateBackend

#: Upper bounds (ms) of the latency buckets; one more bucket counts everything slower.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    10, 25, 50, 100, 200, 350, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000,
    15_000, 30_000, 60_000, 120_000,
)
MICRO = 1_000_000
_VARIANT_COUNTERS = ("requests", "fallbacks", "failures", "cache_hits", "spend_micro")
_MIRROR_COUNTERS = ("compared", "unscored", "failed", "dropped", "iou_micro", "mad_micro",
                    "spend_micro")


class LatencySummary(msgspec.Struct, frozen=True):
    """Latency percentiles of the answers (cache hits excluded), from the histogram."""

    samples: int
    p50_ms: float | None
    p95_ms: float | None


class MirrorSummary(msgspec.Struct, frozen=True):
    """How one mirror provider did on the sample of this variant's traffic."""

    provider: str
    compared: int
    """Mirror answers scored against the served answer."""
    unscored: int
    """Mirror answers that could not be scored (no alpha matte of the same frame)."""
    failed: int
    dropped: int
    """Samples not sent because too many mirror calls were in flight."""
    mean_iou: float | None
    mean_abs_diff: float | None
    spend: float


class VariantReport(msgspec.Struct, frozen=True):
    """One variant of an experiment."""

    provider: str
    weight: float
    requests: int
    served: int
    """Requests the variant itself answered."""
    fallbacks: int
    """Requests another provider answered because the variant failed."""
    failures: int
    """Requests that failed altogether."""
    error_rate: float | None
    """(fallbacks + failures) / requests."""
    cache_hits: int
    latency: LatencySummary
    spend: float
    mirror: list[MirrorSummary]


class ExperimentReport(msgspec.Struct, frozen=True):
    """`GET /v1/experiments/NAME`."""

    experiment: str
    enabled: bool
    mirror_share: float
    variants: list[VariantReport]


def bucket_of(latency_ms: float) -> int:
    """Index of the histogram bucket `latency_ms` falls in."""
    return bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)


def quantile(counts: Sequence[int], q: float) -> float | None:
    """The `q` quantile (0-1) interpolated inside its bucket; None without samples."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            lower = 0.0 if index == 0 else float(LATENCY_BUCKETS_MS[index - 1])
            if index == len(LATENCY_BUCKETS_MS):
                return lower
            upper = float(LATENCY_BUCKETS_MS[index])
            return round(lower + (upper - lower) * (rank - seen) / count, 2)
        seen += count
    return float(LATENCY_BUCKETS_MS[-1])


def _key(experiment: str, variant: str, *parts: str) -> str:
    return ":".join(("experiment", experiment, variant, *parts))


class ExperimentStats:
    """Reads and writes the counters of every experiment through a StateBackend."""

    def __init__(self, state: StateBackend) -> None:
        self._state = state

    async def _add(self, *items: tuple[str, int]) -> None:
        await asyncio.gather(*(self._state.incr(key, amount) for key, amount in items if amount))

    async def record_served(
        self, experiment: str, variant: str, served_by: str, latency_ms: float, cost: float,
        cache_hit: bool,
    ) -> None:
        """Count one answered request of `variant` (served by it or by a fallback)."""
        key = _key(experiment, variant)
        await self._add(
            (f"{key}:requests", 1),
            (f"{key}:fallbacks", int(served_by != variant)),
            (f"{key}:cache_hits", int(cache_hit)),
            (f"{key}:spend_micro", round(cost * MICRO)),
            (f"{key}:latency:{bucket_of(latency_ms)}", int(not cache_hit)),
        )

    async def record_failed(self, experiment: str, variant: str) -> None:
        """Count one request of `variant` that failed altogether."""
        key = _key(experiment, variant)
        await self._add((f"{key}:requests", 1), (f"{key}:failures", 1))

    async def record_mirror(
        self, experiment: str, variant: str, mirror: str, outcome: str,
        agreement: tuple[float, float] | None = None, cost: float = 0.0,
    ) -> None:
        """Count one mirror call: `compared` (with IoU and mean abs diff), `unscored`, `failed`
        or `dropped`."""
        key = _key(experiment, variant, "mirror", mirror)
        items = [(f"{key}:{outcome}", 1), (f"{key}:spend_micro", round(cost * MICRO))]
        if agreement is not None:
            items += [(f"{key}:iou_micro", round(agreement[0] * MICRO)),
                      (f"{key}:mad_micro", round(agreement[1] * MICRO))]
        await self._add(*items)

    async def _read(self, keys: Sequence[str]) -> dict[str, int]:
        values = await asyncio.gather(*(self._state.get_counter(key) for key in keys))
        return dict(zip(keys, values, strict=True))

    async def _mirror(self, experiment: str, variant: str, mirror: str) -> MirrorSummary:
        key = _key(experiment, variant, "mirror", mirror)
        c = await self._read([f"{key}:{name}" for name in _MIRROR_COUNTERS])
        compared = c[f"{key}:compared"]
        return MirrorSummary(
            provider=mirror, compared=compared, unscored=c[f"{key}:unscored"],
            failed=c[f"{key}:failed"], dropped=c[f"{key}:dropped"],
            mean_iou=round(c[f"{key}:iou_micro"] / MICRO / compared, 6) if compared else None,
            mean_abs_diff=(round(c[f"{key}:mad_micro"] / MICRO / compared, 6)
                           if compared else None),
            spend=c[f"{key}:spend_micro"] / MICRO,
        )

    async def _variant(
        self, experiment: str, variant: str, weight: float, mirrors: Sequence[str]
    ) -> VariantReport:
        key = _key(experiment, variant)
        buckets = [f"{key}:latency:{i}" for i in range(len(LATENCY_BUCKETS_MS) + 1)]
        c = await self._read([f"{key}:{name}" for name in _VARIANT_COUNTERS] + buckets)
        counts = [c[b] for b in buckets]
        requests, fallbacks, failures = (c[f"{key}:{n}"] for n in
                                         ("requests", "fallbacks", "failures"))
        return VariantReport(
            provider=variant, weight=weight, requests=requests,
            served=requests - fallbacks - failures, fallbacks=fallbacks, failures=failures,
            error_rate=round((fallbacks + failures) / requests, 6) if requests else None,
            cache_hits=c[f"{key}:cache_hits"],
            latency=LatencySummary(sum(counts), quantile(counts, 0.5), quantile(counts, 0.95)),
            spend=c[f"{key}:spend_micro"] / MICRO,
            mirror=[await self._mirror(experiment, variant, s) for s in mirrors],
        )

    async def report(self, experiment: str, settings: ExperimentSettings) -> ExperimentReport:
        """Every variant's figures, summed over every instance sharing the state backend."""
        variants = await asyncio.gather(*(
            self._variant(experiment, variant, weight, settings.mirror)
            for variant, weight in settings.variants.items()
        ))
        return ExperimentReport(
            experiment=experiment, enabled=settings.enabled,
            mirror_share=settings.mirror_share, variants=list(variants),
        )
