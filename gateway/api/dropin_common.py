"""Plumbing shared by the vendor-compatible (drop-in) routes: fields, options, serving, failures.

Each drop-in module parses its vendor's field names, calls `serve` (the same flow as the unified
API: client auth, cache, routing with failover, post-processing, ledger) and renders `Failure`s in
its vendor's error shape through its own Router-level exception handlers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import msgspec
import structlog
from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException

from gateway.api.inputs import decode_base64
from gateway.api.options import parse_options
from gateway.api.problems import request_id_of
from gateway.api.responses import removal_headers
from gateway.auth import Client
from gateway.errors import GatewayError, InvalidOption, PayloadTooLarge, format_attempts
from gateway.handling import handle_removal, log_fields
from gateway.router import RouteHints
from gateway.runtime import runtime_of
from gateway.service import Removal
from providers.base import OutputOptions

log = structlog.get_logger("gateway")
_FRAMEWORK: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "Bad request"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


class InvalidBase64(InvalidOption):
    """A base64 image field that does not decode."""

    code = "invalid_base64"


class MalformedBody(InvalidOption):
    """The JSON body does not parse, or is not an object."""

    code = "invalid_request"


class Failure(msgspec.Struct, frozen=True):
    """One failed drop-in request, vendor-neutral: each module renders it in its own shape."""

    status: int
    code: str
    title: str
    detail: str
    headers: dict[str, str]


class Admission(msgspec.Struct, frozen=True):
    """An authenticated (or anonymous) client and its RateLimit-* headers."""

    client: Client | None
    headers: dict[str, str]


class ServedRemoval(msgspec.Struct, frozen=True):
    """A successful removal and the headers every drop-in answer carries."""

    removal: Removal
    headers: dict[str, str]


async def read_fields(request: Request) -> tuple[dict[str, object], bool]:
    """Multipart/urlencoded form or JSON object -> ({lower-cased key: first value}, is_json)."""
    content_type = request.headers.get("content-type", "").lower()
    items: Iterable[tuple[str, object]]
    is_json = content_type.startswith("application/json") or "+json" in content_type
    if is_json:
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            raise MalformedBody("the JSON body is malformed") from None
        if not isinstance(body, dict):
            raise MalformedBody("the JSON body must be an object")
        items = body.items()
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        items = (await request.form()).multi_items()
    else:
        items = ()
    fields: dict[str, object] = {}
    for key, value in items:
        fields.setdefault(str(key).strip().lower(), value)
    return fields, is_json


async def image_bytes(
    name: str, value: object, max_bytes: int, uploads_only: bool = False
) -> bytes:
    """An uploaded file, or a base64 text field (data-URL prefix allowed), within `max_bytes`."""
    if isinstance(value, UploadFile):
        data = await value.read()
        await value.close()
    elif isinstance(value, str) and not uploads_only:
        try:
            data = decode_base64(name, value, max_bytes)
        except InvalidOption:
            raise InvalidBase64(f"`{name}` is not valid base64") from None
    else:
        raise InvalidOption(f"field `{name}` must be a file upload")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"`{name}` is {len(data)} bytes; the limit is {max_bytes}")
    return data


async def first_image(
    fields: Mapping[str, object], candidates: tuple[tuple[str, bool], ...], max_bytes: int
) -> bytes | None:
    """The image of the first present field in `candidates` ((name, uploads_only) pairs)."""
    for name, uploads_only in candidates:
        if present(fields, name):
            return await image_bytes(name, fields[name], max_bytes, uploads_only)
    return None


def present(fields: Mapping[str, object], name: str) -> bool:
    """True when `name` carries something (an upload or a non-blank string)."""
    value = fields.get(name)
    return isinstance(value, UploadFile) or (isinstance(value, str) and bool(value.strip()))


def parse_flags(fields: Mapping[str, object], known: frozenset[str]) -> OutputOptions:
    """The output options among `fields` (keys in `known`; other keys are ignored)."""
    pairs: list[tuple[str, str]] = []
    for key, value in fields.items():
        if key not in known or value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            raise InvalidOption(f"option `{key}` must be a string")
        pairs.append((key, text))
    return parse_options(pairs, strict=False).output


async def admit(request: Request) -> Admission:
    """Identify the gateway client by its gateway key and admit it (rate limit, quota).

    The key (X-API-Key / Authorization: Bearer) is the gateway's own and never reaches a vendor.
    """
    client, headers = await runtime_of(request).authenticate(request.headers)
    return Admission(client, headers)


async def serve(
    request: Request, admission: Admission, image: bytes | None, image_url: str | None,
    options: OutputOptions, api: str,
) -> ServedRemoval:
    """Fetch `image_url` if needed, remove the background and log, as the unified API does."""
    runtime = runtime_of(request)
    client = admission.client
    if image is None:
        image = await runtime.fetch_url(image_url or "")
    request_id = request_id_of(request)
    hints = RouteHints(routing_key=request.headers.get("x-routing-key"))
    served = await handle_removal(
        runtime, request.headers, client, image, None, options, hints, request_id
    )
    removal = served.removal
    request.scope["state"]["log"] = {"api": api, **log_fields(served, len(image))}
    headers = {
        **removal_headers(removal, request_id),
        **admission.headers,
        "X-Cache": "hit" if served.cache_hit else "miss",
    }
    return ServedRemoval(removal, headers)


def failure_of(request: Request, exc: Exception) -> Failure:
    """Classify any exception raised in a drop-in handler; crashes are logged, never shown."""
    request_id = request_id_of(request)
    headers = {"X-Request-Id": request_id}
    if isinstance(exc, GatewayError):
        headers.update(exc.headers)
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        if exc.attempts:
            headers["X-Attempts"] = format_attempts(exc.attempts)
        failure = Failure(exc.status, exc.code, exc.title, exc.detail, headers)
    elif isinstance(exc, HTTPException) and exc.status_code < 500:
        headers.update(exc.headers or {})
        code, title = _FRAMEWORK.get(exc.status_code, ("http_error", "HTTP error"))
        detail = str(exc.detail) if exc.detail else title
        if exc.status_code == 413:
            detail = "the request body is over the gateway's upload limit"
        failure = Failure(exc.status_code, code, title, detail, headers)
    else:
        log.error("unhandled_error", request_id=request_id, error=type(exc).__name__,
                  exc_info=exc)
        failure = Failure(500, "internal_error", "Internal error",
                          "the gateway failed unexpectedly; the request id is in the log", headers)
    failure.headers["X-Error-Code"] = failure.code
    request.scope.setdefault("state", {})["error_code"] = failure.code
    return failure


def json_error(status: int, body: object, headers: Mapping[str, str]) -> Response[bytes]:
    """A JSON error answer with `headers` (Retry-After, X-Request-Id, X-Attempts, …)."""
    return Response(
        msgspec.json.encode(body), status_code=status, media_type="application/json",
        headers=dict(headers),
    )
