"""Routes: `POST /v1/compare`, `GET /v1/experiments` and `GET /v1/experiments/{name}`."""

from __future__ import annotations

import base64
from typing import Annotated

import anyio.to_thread
import msgspec
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter

from gateway.api.compare_inputs import read_compare_input
from gateway.api.problems import request_id_of
from gateway.api.responses import wants_json
from gateway.compare.experiments import experiments_of
from gateway.compare.runner import CompareReport, compare_image, resolve_providers
from gateway.compare.sheet import comparison_sheet
from gateway.compare.stats import ExperimentStats
from gateway.runtime import runtime_of


class CompareWithSheet(msgspec.Struct):
    """`POST /v1/compare` with `sheet=true` and `Accept: application/json`."""

    report: CompareReport
    sheet_base64: str


@post(
    "/v1/compare",
    status_code=200,
    summary="Send one image to several providers and compare the answers",
    description=(
        "Same inputs as /v1/remove-background (image, optional trimap, output options) plus "
        "an optional `ground_truth` alpha image (file, or `ground_truth_base64`), `providers` "
        "(default: every enabled one), `sheet=true` for a PNG contact sheet and `tile` (its "
        "tile size, 32-512 px), `images=true` to get every cut-out in the report as "
        "`image_base64` (one call, each provider paid once). Each provider is pinned without "
        "fallback; the JSON answer gives per provider its status or error code, latency, "
        "cost, size and quality: SAD, MSE, gradient, connectivity and IoU against the ground "
        "truth, else pairwise agreement "
        "(IoU, SAD, mean absolute difference) and the share of soft-edge pixels."
    ),
)
async def compare(request: Request) -> Response[bytes]:
    """Compare providers on one image (JSON report, or a PNG contact sheet)."""
    runtime = runtime_of(request)
    settings = runtime.settings
    client, rate_headers = await runtime.authenticate(request.headers)
    given = await read_compare_input(
        request, settings.server.max_upload_bytes, settings.routing.routing_key_field
    )
    removal = given.removal
    image = removal.image
    if image is None:
        image = await runtime.fetch_url(removal.image_url or "")
    names = resolve_providers(runtime, removal.options.providers, client)
    request_id = request_id_of(request)
    comparison = await compare_image(
        runtime, image, removal.trimap, given.ground_truth, removal.options.output, names,
        request_id, client,
    )
    report = comparison.report
    if given.images:
        for outcome in report.providers:
            if outcome.status == "ok":
                data = comparison.images[outcome.provider]
                outcome.image_base64 = base64.b64encode(data).decode("ascii")
    request.scope["state"]["log"] = {
        "client": client.name if client else "anonymous",
        "compared": [f"{o.provider}={o.status if o.error is None else o.error}"
                     for o in report.providers],
        "ground_truth": report.ground_truth,
        "sheet": given.sheet,
    }
    headers = {"X-Request-Id": request_id, **rate_headers}
    if not given.sheet:
        return Response(msgspec.json.encode(report), media_type="application/json",
                        headers=headers)
    sheet = await anyio.to_thread.run_sync(comparison_sheet, comparison, given.tile)
    if wants_json(request):
        body = CompareWithSheet(report, base64.b64encode(sheet).decode("ascii"))
        return Response(msgspec.json.encode(body), media_type="application/json",
                        headers=headers)
    return Response(sheet, media_type="image/png", headers=headers)


@get("/v1/experiments", summary="Configured experiments")
async def list_experiments(request: Request) -> Response[bytes]:
    """Every configured experiment with its variants, mirrors and mirror share."""
    runtime = runtime_of(request)
    await runtime.authenticate(request.headers)
    return Response(msgspec.json.encode({"experiments": experiments_of(runtime.settings)}),
                    media_type="application/json")


@get("/v1/experiments/{name:str}", summary="Per-variant figures of one experiment")
async def experiment_report(
    request: Request, name: Annotated[str, PathParameter()]
) -> Response[bytes]:
    """Requests, error rate, p50/p95 latency, spend and mirror agreement per variant."""
    runtime = runtime_of(request)
    await runtime.authenticate(request.headers)
    config = experiments_of(runtime.settings).get(name)
    if config is None or runtime.state is None:
        raise NotFoundException(detail=f"no experiment named {name[:60]!r}")
    report = await ExperimentStats(runtime.state).report(name, config)
    return Response(msgspec.json.encode(report), media_type="application/json")


COMPARE_ROUTES = [compare, list_experiments, experiment_report]
