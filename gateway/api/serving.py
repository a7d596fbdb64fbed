"""The one serve function of every removal route (unified and drop-ins): admit, flow, headers.

A route reads its body (`gateway.api.inputs.read_body`), picks its fields and options, then
calls `serve`: fetch `image_url` when there is no image, run the removal flow through
`Runtime.remove` (inside an experiment when one is named), put the request's log fields in
place and build the headers every answer carries. The route only shapes the answer.
"""

from __future__ import annotations

import anyio.to_thread
import msgspec
from litestar import Request

from gateway.api.problems import request_id_of
from gateway.api.responses import removal_headers
from gateway.auth import Client
from gateway.cache import skips_cache
from gateway.errors import InvalidImageUrl
from gateway.postprocess.foreground import foreground_of
from gateway.router import RouteHints
from gateway.runtime import runtime_of
from gateway.service import Removal, RemovalCall, Served
from providers.base import OutputOptions


class Admission(msgspec.Struct, frozen=True):
    """An authenticated (or anonymous) client and its RateLimit-* headers."""

    client: Client | None
    headers: dict[str, str]


class ServedRemoval(msgspec.Struct, frozen=True):
    """A successful removal, how it was served, and the headers every answer carries."""

    removal: Removal
    served: Served
    headers: dict[str, str]


async def admit(request: Request) -> Admission:
    """Identify the gateway client by its gateway key and admit it (rate limit, quota).

    The key (X-API-Key / Authorization: Bearer) is the gateway's own and never reaches a vendor.
    """
    client, headers = await runtime_of(request).authenticate(request.headers)
    return Admission(client, headers)


def log_fields(served: Served, in_bytes: int) -> dict[str, object]:
    """The fields a served removal adds to its request's log event."""
    removal = served.removal
    fields: dict[str, object] = {
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
    if served.experiment is not None:
        fields["experiment"], fields["variant"] = served.experiment, served.variant
    return fields


async def serve(
    request: Request, admission: Admission, image: bytes | None, image_url: str | None,
    options: OutputOptions, *, hints: RouteHints | None = None, trimap: bytes | None = None,
    experiment: str | None = None, api: str | None = None, bg_image_url: str | None = None,
    measure_foreground: bool = False, bill_empty: bool = True,
) -> ServedRemoval:
    """Fetch `image_url` (and `bg_image_url`) if needed, run the flow, log, build the headers.

    A post-processed answer carries its subject box (`X-Foreground-*`) for free. A pass-through
    or cached answer is measured (decoded) only with `measure_foreground`, for routes whose
    contract always has the box (remove.bg): a pass-through never decodes the answer otherwise.
    `bill_empty=False`: an answer without a subject is not billed to the client (`RemovalCall`).
    """
    runtime = runtime_of(request)
    if image is None:
        image = await runtime.fetch_url(image_url or "")
    if bg_image_url is not None:
        try:
            background = await runtime.fetch_url(bg_image_url)
        except InvalidImageUrl as exc:  # the fetcher's messages name `image_url`
            raise InvalidImageUrl(exc.detail.replace("image_url", "bg_image_url", 1)) from None
        options = msgspec.structs.replace(options, bg_image=background)
    request_id = request_id_of(request)
    call = RemovalCall(
        image=image, request_id=request_id, options=options,
        hints=hints or RouteHints(routing_key=request.headers.get("x-routing-key")),
        trimap=trimap, client=admission.client,
        use_cache=not skips_cache(request.headers.get("cache-control")),
        bill_empty=bill_empty,
    )
    served = await runtime.remove(call, experiment)
    processed = served.removal.image
    if measure_foreground and processed.foreground is None:  # pass-through or cached
        box = await anyio.to_thread.run_sync(
            foreground_of, processed.data, processed.media_type, options.channels == "alpha"
        )
        served.removal.image = msgspec.structs.replace(processed, foreground=box)
    state = request.scope["state"]
    state["log"] = {**({"api": api} if api else {}), **log_fields(served, len(image))}
    headers = {
        **removal_headers(served.removal, request_id, state.get("received_at")),
        **admission.headers,
        "X-Cache": "hit" if served.cache_hit else "miss",
    }
    if served.experiment is not None:
        headers["X-Experiment"], headers["X-Variant"] = served.experiment, served.variant or ""
    return ServedRemoval(served.removal, served, headers)
