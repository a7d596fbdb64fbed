"""Successful answers: the image bytes or a JSON document, with the standard headers."""

from __future__ import annotations

import base64
import time

import msgspec
from litestar import Request, Response

from gateway.errors import Attempt, format_attempts
from gateway.service import Removal


class RemovalJSON(msgspec.Struct):
    """The JSON answer of `POST /v1/remove-background` with `Accept: application/json`."""

    image_base64: str
    media_type: str
    width: int
    height: int
    provider: str
    attempts: list[Attempt]
    emulated: list[str]
    cost: float
    request_id: str


def server_timing(removal: Removal, received_at: float | None = None) -> str:
    """`Server-Timing`; with `received_at` (perf_counter at arrival) it spans the whole request."""
    total_ms = removal.total_ms
    if received_at is not None:
        total_ms = max(total_ms, (time.perf_counter() - received_at) * 1000)
    overhead_ms = max(0.0, total_ms - removal.provider_ms)
    return (
        f"provider;dur={removal.provider_ms:.2f}, "
        f"postprocess;dur={removal.postprocess_ms:.2f}, "
        f"overhead;dur={overhead_ms:.2f}, "
        f"total;dur={total_ms:.2f}"
    )


def removal_headers(
    removal: Removal, request_id: str, received_at: float | None = None
) -> dict[str, str]:
    """Headers on every successful answer (design section 4)."""
    return {
        "X-Request-Id": request_id,
        "X-Provider": removal.provider,
        "X-Attempts": format_attempts(removal.attempts),
        "X-Emulated": ",".join(removal.image.emulated),
        "X-Cost": f"{removal.cost:g}",
        "X-Width": str(removal.image.width),
        "X-Height": str(removal.image.height),
        "Server-Timing": server_timing(removal, received_at),
        **foreground_headers(removal.image.foreground),
    }


def foreground_headers(box: tuple[int, int, int, int] | None) -> dict[str, str]:
    """`X-Foreground-Top/Left/Width/Height`: the subject's box in the answer (when measured)."""
    if box is None:
        return {}
    names = ("X-Foreground-Top", "X-Foreground-Left", "X-Foreground-Width", "X-Foreground-Height")
    return dict(zip(names, map(str, box), strict=True))


def wants_json(request: Request) -> bool:
    """True when the client asked for JSON rather than image bytes."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "image/" not in accept


def removal_response(
    request: Request, removal: Removal, request_id: str, headers: dict[str, str]
) -> Response[bytes]:
    """Image bytes (or JSON with base64) with `headers` (see `serving.serve`)."""
    if wants_json(request):
        body = RemovalJSON(
            image_base64=base64.b64encode(removal.image.data).decode("ascii"),
            media_type=removal.image.media_type,
            width=removal.image.width,
            height=removal.image.height,
            provider=removal.provider,
            attempts=list(removal.attempts),
            emulated=list(removal.image.emulated),
            cost=removal.cost,
            request_id=request_id,
        )
        return Response(msgspec.json.encode(body), media_type="application/json", headers=headers)
    return Response(removal.image.data, media_type=removal.image.media_type, headers=headers)
