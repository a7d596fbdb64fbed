"""withoutBG adapter: a 1024 px proxy to `/v1.0/alpha-channel` (or a cutout), X-API-Key auth.

Status -> error (vendor pages `withoutbg-*.txt`):
    401 auth · 402 out of credits · 403 out of credits (expired) · 429 rate limited (Retry-After)
    413, 415 protocol: the adapter only uploads JPEG/PNG/... under 10 MB, so either means *our*
        upload was wrong; that says nothing about the image, so another provider may still try.
    422 rejected ("corrupt image"), except a FastAPI validation list (`detail: [...]`, e.g. a
        missing `file` field), which is our malformed request -> protocol.
    5xx unavailable · other 4xx protocol.
`upload="original"` sends the original bytes when they fit (accepted format, <= 10 MB, no JPEG EXIF
rotation the vendor might ignore); otherwise it re-encodes a full-size RGB JPEG, and if even that is
over 10 MB it raises ProviderProtocolError before any call (fallback allowed, no credit spent).
Error bodies (`{"detail": …}` or `{"error": …}`) are never copied into messages or logs.
"""

from __future__ import annotations

import time

import anyio.to_thread
import httpx
import msgspec

from providers._http import ErrorMap, VendorHTTP, json_object, with_defaults
from providers.base import IMAGE_FORMATS, Capabilities, ProviderRequest, ProviderResult
from providers.errors import (
    ProviderError,
    ProviderOutOfCredits,
    ProviderProtocolError,
    ProviderRejected,
)
from providers.images import sniff_format
from providers.multipart import FilePart, multipart
from providers.uploads import ImagePart, jpeg_part, needs_reencode, original_part
from providers.withoutbg_config import WithoutBGConfig

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
CREDITS_TIMEOUT_S = 10.0
PATHS = {"alpha": "/v1.0/alpha-channel", "cutout": "/v1.0/image-without-background"}
CREDITS_PATH = "/available-credit"

def error_code(status: int, body: bytes) -> str | None:
    """`request_validation` for FastAPI's `{"detail": [{"loc": …}]}` (our malformed request)."""
    decoded = json_object(body) if status == 422 else None
    return "request_validation" if decoded and isinstance(decoded.get("detail"), list) else None


def refine(status: int, code: str | None) -> type[ProviderError] | None:
    """A 422 validation list is our malformed request, not the image."""
    return ProviderProtocolError if code == "request_validation" else None


ERRORS = ErrorMap(
    table=with_defaults({
        403: ProviderOutOfCredits, 413: ProviderProtocolError, 415: ProviderProtocolError,
        422: ProviderRejected,
    }),
    code=error_code,
    refine=refine,
)


def prepare_upload(request: ProviderRequest, config: WithoutBGConfig, provider: str) -> ImagePart:
    """Proxy JPEG (or the original when it can go as is); CPU work, run it in a worker thread."""
    limit = min(config.upload_limit_bytes, MAX_UPLOAD_BYTES)
    if config.upload == "original" and not needs_reencode(request, IMAGE_FORMATS, limit):
        return original_part(request)
    long_side = config.proxy_long_side if config.upload == "proxy" else None
    return jpeg_part(request, long_side, config.proxy_quality, limit, provider)


def build_request(config: WithoutBGConfig, upload: ImagePart) -> httpx.Request:
    """The multipart POST of `upload` to the configured endpoint."""
    body, content_type = multipart(
        {}, [FilePart("file", upload.filename, upload.media_type, upload.data)]
    )
    return httpx.Request(
        "POST", config.base_url.rstrip("/") + PATHS[config.endpoint], content=body,
        headers={"X-API-Key": config.api_key or "", "Accept": "image/png, application/json",
                 "content-type": content_type},
    )


def parse_response(response: httpx.Response, provider: str, config: WithoutBGConfig) -> bytes:
    """The PNG body of a 2xx answer."""
    if sniff_format(response.content) != "png":
        raise ProviderProtocolError(
            f"{provider}: {PATHS[config.endpoint]} answered 200 without a PNG body", provider,
            status=response.status_code,
        )
    return response.content


def build_credits_request(config: WithoutBGConfig) -> httpx.Request:
    """GET /available-credit."""
    return httpx.Request(
        "GET",
        config.base_url.rstrip("/") + CREDITS_PATH,
        headers={"X-API-Key": config.api_key or "", "Accept": "application/json"},
    )


def parse_credits_response(response: httpx.Response, provider: str) -> float | None:
    """`available_credits` (or `credit`) of a 2xx answer, None when the body names neither."""
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError as exc:
        raise ProviderProtocolError(f"{provider}: credits body is not JSON", provider) from exc
    if not isinstance(body, dict):
        return None
    for field in ("available_credits", "credit"):
        value = body.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def capabilities(config: WithoutBGConfig) -> Capabilities:
    """What this adapter does natively and accepts, for `config`."""
    return Capabilities(
        output="mask" if config.endpoint == "alpha" else "cutout",
        native=frozenset(),
        input_formats=IMAGE_FORMATS,
        # A proxy is always small, so only the original upload is bound by the vendor's limit.
        max_input_bytes=None if config.upload == "proxy" else min(
            config.upload_limit_bytes, MAX_UPLOAD_BYTES),
        cost=config.cost,
        rate_limit=config.rate_limit,
    )


class WithoutBGProvider:
    """withoutBG: matte (or cutout) of a proxy or the original; every option is emulated."""

    def __init__(self, name: str, config: WithoutBGConfig, client: httpx.AsyncClient) -> None:
        self.name = name
        self._config = config
        self._http = VendorHTTP(name, client, ERRORS, config.timeout_s, config.api_key)
        self.capabilities = capabilities(config)

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Upload, call the endpoint, return the matte (or cutout) at the upload's resolution."""
        self._http.check(request.deadline)
        upload = await anyio.to_thread.run_sync(
            prepare_upload, request, self._config, self.name
        )
        started = time.monotonic()
        response = await self._http.call(
            build_request(self._config, upload), PATHS[self._config.endpoint], request.deadline
        )
        data = parse_response(response, self.name, self._config)
        return ProviderResult(
            data=data,
            media_type="image/png",
            kind=self.capabilities.output,
            provider=self.name,
            latency_s=time.monotonic() - started,
            cost=self._config.cost,
            metadata={
                "endpoint": self._config.endpoint,
                "upload": self._config.upload,
                "upload_size": f"{upload.width}x{upload.height}",
                "upload_bytes": str(len(upload.data)),
                "reencoded": str(upload.reencoded).lower(),
            },
        )

    async def credits(self) -> float | None:
        """Remaining credits from GET /available-credit."""
        response = await self._http.call(
            build_credits_request(self._config), CREDITS_PATH, cap_s=CREDITS_TIMEOUT_S
        )
        return parse_credits_response(response, self.name)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to the app."""
