"""One removal as every route serves it: client checks, cache, routing, ledger and metrics."""

from __future__ import annotations

import time
from collections.abc import Mapping

import msgspec
import structlog

from gateway.auth import Client
from gateway.cache import CachedResult, cache_key, skips_cache
from gateway.errors import Attempt, GatewayError, InvalidOption
from gateway.ledger import UsageRecord
from gateway.postprocess import ProcessedImage
from gateway.router import RouteHints
from gateway.runtime import Runtime
from gateway.service import Removal
from providers.base import OutputOptions

log = structlog.get_logger("gateway")


class Served(msgspec.Struct):
    """A removal plus how it was served."""

    removal: Removal
    cache_hit: bool
    client: str


def log_fields(served: Served, in_bytes: int) -> dict[str, object]:
    """The fields a served removal adds to its request's log event."""
    removal = served.removal
    return {
        "client": served.client,
        "provider": removal.provider,
        "attempts": [f"{a.provider}={a.outcome}" for a in removal.attempts],
        "emulated": list(removal.image.emulated),
        "cache": "hit" if served.cache_hit else "miss",
        "in_bytes": in_bytes,
        "out_bytes": len(removal.image.data),
        "out_size": f"{removal.image.width}x{removal.image.height}",
        "provider_ms": round(removal.provider_ms, 2),
        "postprocess_ms": round(removal.postprocess_ms, 2),
        "overhead_ms": round(removal.overhead_ms, 2),
    }


def restrict_to_client(hints: RouteHints, client: Client | None) -> RouteHints:
    """Apply the client's `allowed_providers` to the request's pins."""
    allowed = client.settings.allowed_providers if client else None
    if not allowed:
        return hints
    if hints.provider and hints.provider not in allowed:
        raise InvalidOption(f"option `provider`: `{hints.provider}` is not allowed for this client")
    wanted = hints.providers or allowed
    kept = tuple(name for name in wanted if name in allowed)
    if not kept:
        raise InvalidOption("option `providers`: none of them is allowed for this client")
    return msgspec.structs.replace(hints, providers=kept)


def _from_cache(entry: CachedResult) -> Removal:
    image = ProcessedImage(entry.data, entry.media_type, entry.width, entry.height, entry.emulated)
    return Removal(image=image, provider=entry.provider, attempts=(Attempt("cache", "hit"),),
                   cost=0.0, provider_ms=0.0, postprocess_ms=0.0, total_ms=0.0)


def _to_cache(removal: Removal) -> CachedResult:
    return CachedResult(
        data=removal.image.data, media_type=removal.image.media_type, width=removal.image.width,
        height=removal.image.height, provider=removal.provider, emulated=removal.image.emulated,
    )


async def handle_removal(
    runtime: Runtime, headers: Mapping[str, str], client: Client | None, image: bytes,
    trimap: bytes | None, options: OutputOptions, hints: RouteHints, request_id: str,
) -> Served:
    """Validate, answer from the cache or route, then record usage; raises GatewayError."""
    hints = restrict_to_client(hints, client)
    job = await runtime.service.validate(image, trimap, options, hints, request_id)
    client_name = client.name if client else "anonymous"
    metrics = runtime.metrics
    removal: Removal | None = None
    hit = False
    try:
        if runtime.cache is not None and not skips_cache(headers.get("cache-control")):
            key = cache_key(job.image, job.trimap, options, hints.provider)
            fresh: list[Removal] = []

            async def compute() -> CachedResult:
                fresh.append(await runtime.service.remove(job))
                return _to_cache(fresh[0])

            entry, hit = await runtime.cache.get_or_compute(key, compute)
            removal = fresh[0] if fresh else _from_cache(entry)
            hit = not fresh
        else:
            removal = await runtime.service.remove(job)
    except GatewayError as exc:
        for attempt in exc.attempts:
            metrics.count_attempt(attempt.provider, attempt.outcome)
        raise
    await runtime.ledger.record(UsageRecord(
        request_id=request_id, client=client_name, provider=removal.provider,
        cost=0.0 if hit else removal.cost, emulated=removal.image.emulated, cache_hit=hit,
        timestamp=time.time(),
    ))
    await runtime.auth.charge(client)
    _observe(runtime, removal, hit)
    return Served(removal, hit, client_name)


def _observe(runtime: Runtime, removal: Removal, hit: bool) -> None:
    metrics = runtime.metrics
    metrics.count_cache(hit)
    if hit:
        return
    for index, attempt in enumerate(removal.attempts):
        metrics.count_attempt(attempt.provider, attempt.outcome)
        metrics.observe_provider(attempt.provider, attempt.latency_ms / 1000, attempt.outcome)
        if attempt.outcome != "ok" and index < len(removal.attempts) - 1:
            metrics.count_fallback(attempt.outcome)
    for step in removal.image.emulated:
        metrics.count_emulated(step)
    metrics.add_spend(removal.provider, removal.cost)
    metrics.observe_overhead(removal.overhead_ms / 1000)
