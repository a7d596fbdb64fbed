"""Thin route handlers of the unified API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from gateway.api.inputs import read_body, read_removal_input
from gateway.api.options import RequestOptions
from gateway.api.responses import removal_response
from gateway.api.serving import admit, serve
from gateway.errors import InvalidOption
from gateway.router import RouteHints
from gateway.runtime import runtime_of
from providers.base import SupportsDetails
from providers.registry import capabilities_of


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
    settings = runtime_of(request).settings
    admission = await admit(request)
    given = await read_removal_input(
        await read_body(request), settings.server.max_upload_bytes,
        routing_key_field=settings.routing.routing_key_field,
    )
    opts = given.options
    served = await serve(
        request, admission, given.image, given.image_url, opts.output,
        hints=route_hints(request, opts), trimap=given.trimap,
        experiment=opts.experiment or request.headers.get("x-experiment", "").strip() or None,
        bg_image_url=opts.bg_image_url,
    )
    return removal_response(request, served.removal, served.headers["X-Request-Id"],
                            served.headers)


@get("/v1/providers", summary="Configured providers, their capabilities and live state")
async def list_providers(request: Request) -> Response[bytes]:
    """Every configured provider: capabilities, enabled, circuit, headroom, latency, spend."""
    runtime = runtime_of(request)
    await runtime.authenticate(request.headers)
    statuses = msgspec.to_builtins(await runtime.router.describe())
    health = await runtime.vendor_health()
    for status in statuses:
        # true/false from the vendor's health endpoint; null when it has none.
        status["health"] = health.get(status["name"])
        provider = runtime.providers.get(status["name"])
        # The local engine: which engine, model, family and licence it runs (null for vendors).
        status["engine"] = provider.details() if isinstance(provider, SupportsDetails) else None
        config = runtime.settings.providers.get(status["name"])
        if status["capabilities"] is None and config is not None:
            # A disabled vendor still says what it would do once its key is set.
            status["capabilities"] = msgspec.to_builtins(capabilities_of(config))
    return Response(msgspec.json.encode({"providers": statuses}), media_type="application/json")


@get("/v1/usage", summary="Images and spend by client and provider")
async def usage(
    request: Request,
    client: Annotated[str | None, QueryParameter(name="client")] = None,
    from_: Annotated[str | None, QueryParameter(name="from")] = None,
    to: Annotated[str | None, QueryParameter(name="to")] = None,
) -> Response[bytes]:
    """Sum the usage ledger by client and provider; `from`/`to` are ISO 8601 or Unix seconds."""
    runtime = runtime_of(request)
    caller, _ = await runtime.authenticate(request.headers)
    if caller is not None:
        # An identified client sees its own usage only; anonymous callers exist only when
        # client auth is off, and then the ledger is the operator's to read.
        if client not in (None, caller.name):
            raise InvalidOption("query `client`: a client can only read its own usage")
        client = caller.name
    start, end = parse_instant("from", from_), parse_instant("to", to)
    rows = await runtime.ledger.summarize(client, start, end)
    # Read after the summary: a summary that found Redis back has ended the outage.
    body: dict[str, object] = {"usage": rows, "from": start, "to": end,
                               "partial": runtime.ledger.partial}
    if body["partial"]:
        body["detail"] = ("the shared ledger's Redis is unreachable: these figures hold only "
                          "this instance's records since it was lost")
    return Response(msgspec.json.encode(body), media_type="application/json")


@get("/v1/credits", summary="Remaining credits reported by each vendor")
async def credits(request: Request) -> Response[bytes]:
    """Ask every provider with a credits endpoint (cached briefly)."""
    runtime = runtime_of(request)
    await runtime.authenticate(request.headers)
    report = await runtime.credits()
    return Response(msgspec.json.encode({"credits": report}), media_type="application/json")


@get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response[bytes]:
    """Prometheus text exposition of the gateway's metrics."""
    runtime = runtime_of(request)
    for status in await runtime.router.describe():
        runtime.metrics.set_circuit(status.name, status.circuit)
    body, content_type = runtime.metrics.render()
    return Response(body, media_type=content_type)


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


def parse_instant(name: str, value: str | None) -> float | None:
    """ISO 8601 date/time or Unix seconds -> Unix seconds; malformed is a 400."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidOption(f"query `{name}` must be ISO 8601 or Unix seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


ROUTES = [remove_background, list_providers, usage, credits, metrics, health, ready]
