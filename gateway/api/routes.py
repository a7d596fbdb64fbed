"""Thin route handlers of the unified API."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post

from gateway.api.inputs import read_removal_input
from gateway.api.options import RequestOptions
from gateway.api.problems import request_id_of
from gateway.api.responses import removal_response
from gateway.router import RouteHints
from gateway.runtime import runtime_of


def route_hints(request: Request, opts: RequestOptions) -> RouteHints:
    """Routing hints from the options and the `X-Routing-Key` header."""
    return RouteHints(
        provider=opts.provider,
        providers=opts.providers,
        fallback=opts.fallback,
        policy=opts.policy,
        routing_key=request.headers.get("x-routing-key") or opts.routing_key,
    )


@post(
    "/v1/remove-background",
    status_code=200,
    summary="Remove the background of one image",
    description=(
        "multipart: `image_file` (aliases `file`, `image`), optional `trimap_file`, options "
        "as form fields. JSON: `image_base64` (data-URL prefix allowed) or `image_url`, optional "
        "`trimap_base64`, options. Options: format png|jpg|webp, channels rgba|alpha, size "
        "preview|medium|hd|full|auto, crop, crop_margin (12px|5%), bg_color, despill, provider, "
        "providers, fallback. Answers the image (or JSON with `Accept: application/json`)."
    ),
)
async def remove_background(request: Request) -> Response[bytes]:
    """Remove the background of one image (multipart, JSON or raw body)."""
    runtime = runtime_of(request)
    settings = runtime.settings
    removal_input = await read_removal_input(
        request, settings.server.max_upload_bytes,
        routing_key_field=settings.routing.routing_key_field,
    )
    opts = removal_input.options
    request_id = request_id_of(request)
    image = removal_input.image
    if image is None:
        image = await runtime.fetch_url(removal_input.image_url or "")
    hints = route_hints(request, opts)
    job = await runtime.service.validate(
        image, removal_input.trimap, opts.output, hints, request_id
    )
    removal = await runtime.service.remove(job)
    request.scope["state"]["log"] = {
        "provider": removal.provider,
        "attempts": [f"{a.provider}={a.outcome}" for a in removal.attempts],
        "emulated": list(removal.image.emulated),
        "in_bytes": len(image),
        "in_size": f"{job.info.width}x{job.info.height}",
        "out_bytes": len(removal.image.data),
        "out_size": f"{removal.image.width}x{removal.image.height}",
        "provider_ms": round(removal.provider_ms, 2),
        "postprocess_ms": round(removal.postprocess_ms, 2),
        "overhead_ms": round(removal.overhead_ms, 2),
    }
    return removal_response(request, removal, request_id)


@get("/v1/providers", summary="Configured providers, their capabilities and live state")
async def list_providers(request: Request) -> Response[bytes]:
    """Every configured provider: capabilities, enabled, circuit, headroom, latency, spend."""
    statuses = await runtime_of(request).router.describe()
    return Response(msgspec.json.encode({"providers": statuses}), media_type="application/json")


@get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@get("/ready", summary="Readiness: config loaded, providers built, state backend reachable")
async def ready(request: Request) -> Response[Any]:
    """Ready when the runtime started and the state backend answers."""
    report = await runtime_of(request).readiness()
    status = 200 if report["ready"] else 503
    return Response(report, status_code=status)


ROUTES = [remove_background, list_providers, health, ready]
