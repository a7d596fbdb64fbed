"""Run one image through several providers alike and measure each answer (route and CLI)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

import anyio.to_thread
import msgspec

from gateway.auth import Client
from gateway.compare.mattes import (
    Alpha,
    QualityFigures,
    metrics_blocker,
    read_ground_truth,
    read_trimap,
    score_mattes,
    served_matte,
)
from gateway.errors import Attempt, GatewayError, InvalidOption
from gateway.router import RouteHints
from gateway.runtime import Runtime
from gateway.service import RemovalCall, Served
from providers.base import OutputOptions


class ProviderOutcome(msgspec.Struct, omit_defaults=True):
    """One provider's answer to the comparison: how it went, what it cost, how good it is."""

    provider: str
    status: Literal["ok", "error"]
    attempts: list[Attempt]
    error: str | None = None
    """The problem code (`provider_error`, `provider_timeout`, …) when status is `error`."""
    error_status: int | None = None
    detail: str | None = None
    latency_ms: float | None = None
    provider_ms: float | None = None
    cost: float | None = None
    bytes: int | None = None
    width: int | None = None
    height: int | None = None
    media_type: str | None = None
    emulated: list[str] | None = None
    quality: QualityFigures | None = None
    quality_note: str | None = None
    image_base64: str | None = None
    """The cut-out itself, with `images=true`."""


class CompareReport(msgspec.Struct):
    """The JSON answer of `POST /v1/compare`."""

    request_id: str
    width: int
    height: int
    ground_truth: bool
    providers: list[ProviderOutcome]


class Comparison(msgspec.Struct):
    """The report plus every served image (for the contact sheet)."""

    report: CompareReport
    images: dict[str, bytes]
    source: bytes


def resolve_providers(
    runtime: Runtime, requested: Sequence[str] | None, client: Client | None
) -> list[str]:
    """The providers to compare: `requested` (checked), else all enabled ones the client may use."""
    allowed = client.settings.allowed_providers if client else None
    known = set(runtime.providers) | set(runtime.settings.disabled)
    if requested is None:
        names = [n for n in runtime.providers if not allowed or n in allowed]
        if not names:
            raise InvalidOption("no enabled provider is allowed for this client")
        return names
    names = list(dict.fromkeys(requested))
    for name in names:
        if name not in known:
            raise InvalidOption(f"option `providers`: unknown provider {name!r}")
        if allowed and name not in allowed:
            raise InvalidOption(f"option `providers`: `{name}` is not allowed for this client")
    return names


async def _serve_one(runtime: Runtime, call: RemovalCall, provider: str) -> Served | GatewayError:
    """`call` pinned to `provider` without fallback; comparisons never read the cache."""
    pinned = msgspec.structs.replace(
        call, hints=RouteHints(provider=provider, fallback=False), use_cache=False,
        request_id=f"{call.request_id}.{provider}",
    )
    try:
        return await runtime.remove(pinned)
    except GatewayError as exc:
        return exc


def _outcome(provider: str, answer: Served | GatewayError) -> ProviderOutcome:
    if isinstance(answer, GatewayError):
        return ProviderOutcome(
            provider=provider, status="error", attempts=list(answer.attempts), error=answer.code,
            error_status=answer.status, detail=answer.detail,
        )
    removal = answer.removal
    return ProviderOutcome(
        provider=provider, status="ok", attempts=list(removal.attempts),
        latency_ms=round(removal.total_ms, 2), provider_ms=round(removal.provider_ms, 2),
        cost=removal.cost, bytes=len(removal.image.data), width=removal.image.width,
        height=removal.image.height, media_type=removal.image.media_type,
        emulated=list(removal.image.emulated),
    )


def _measure(
    images: dict[str, bytes], width: int, height: int, truth: Alpha | None,
    trimap: bytes | None,
) -> tuple[dict[str, QualityFigures], dict[str, str]]:
    """Extract every matte, then score them (runs in a worker thread)."""
    mattes: dict[str, Alpha] = {}
    notes: dict[str, str] = {}
    for name, data in images.items():
        matte = served_matte(data, width, height)
        if matte is None:
            notes[name] = "the output has no alpha matte of the input's frame"
        else:
            mattes[name] = matte
    if truth is None and len(mattes) < 2:
        for name in mattes:
            notes[name] = "pairwise agreement needs two successful providers (or a ground truth)"
    trimap_array = read_trimap(trimap) if trimap is not None else None
    return score_mattes(mattes, truth, trimap_array), notes


async def compare_image(
    runtime: Runtime, image: bytes, trimap: bytes | None, ground_truth: bytes | None,
    options: OutputOptions, providers: Sequence[str], request_id: str,
    client: Client | None = None,
) -> Comparison:
    """Send one image to every provider in parallel (pinned, no fallback) and score the answers."""
    call = RemovalCall(image=image, request_id=request_id, options=options, trimap=trimap,
                       client=client)
    job = await runtime.service.validate(call)
    width, height = job.info.width, job.info.height
    truth = None
    if ground_truth is not None:
        max_pixels = int(runtime.settings.server.max_megapixels * 1_000_000)
        truth = await anyio.to_thread.run_sync(
            read_ground_truth, ground_truth, width, height, max_pixels
        )
    answers = await asyncio.gather(*(
        _serve_one(runtime, call, name) for name in providers
    ))
    outcomes = [_outcome(name, answer) for name, answer in zip(providers, answers, strict=True)]
    images = {
        name: answer.removal.image.data
        for name, answer in zip(providers, answers, strict=True)
        if not isinstance(answer, GatewayError)
    }
    blocker = metrics_blocker(options)
    figures: dict[str, QualityFigures] = {}
    notes: dict[str, str] = dict.fromkeys(images, blocker) if blocker else {}
    if blocker is None and images:
        figures, notes = await anyio.to_thread.run_sync(
            _measure, images, width, height, truth, job.trimap
        )
    for outcome in outcomes:
        outcome.quality = figures.get(outcome.provider)
        outcome.quality_note = notes.get(outcome.provider)
    report = CompareReport(request_id, width, height, truth is not None, outcomes)
    return Comparison(report=report, images=images, source=image)
