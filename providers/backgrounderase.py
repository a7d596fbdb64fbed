"""BackgroundErase v2 adapter: `POST /v2` multipart `image_file` plus option flags, x-api-key auth.

The vendor does every output option itself, so a result is a pass-through (`final=True`) when the
options could be expressed exactly and the body is in the requested format. `crop_margin` and a
translucent `bg_color` have no vendor flag: then no flags are sent (a bare RGBA cutout comes back,
`final=False`) and post-processing does all of it, since a vendor crop would drop the margin pixels.

The document only says errors are "a structured error with a message and code", so:
    401, 403 auth · 402 out of credits · 429 rate limited (Retry-After) · 5xx unavailable
    413 protocol: no size limit is documented; a too-big payload says nothing about the image,
        and a proxy-based or local provider can still serve it, so fallback stays allowed.
    400 protocol (we sent something malformed) · 422 rejected (the image cannot be processed);
        for these two vague statuses the `code` refines the class (credit/rate/auth/size words).
    other 4xx protocol.
The vendor `message` is never copied; only a sanitised `code` (lowercase words) may be.
"""

from __future__ import annotations

import functools
import re
import time

import httpx

from providers._http import ErrorMap, VendorHTTP, json_object, with_defaults
from providers.backgrounderase_config import BackgroundEraseConfig
from providers.base import (
    IMAGE_FORMATS,
    Capabilities,
    OutputOptions,
    ProviderRequest,
    ProviderResult,
)
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRejected,
)
from providers.images import MEDIA_TYPES, sniff_format
from providers.multipart import FilePart, multipart

PATH = "/v2"
HEALTH_PATH = "/v2/health"
HEALTH_TIMEOUT_S = 5.0
NATIVE = frozenset({"format", "channels", "size", "crop", "bg_color", "despill"})
_FORMATS = {"png": "png", "jpg": "jpeg", "webp": "webp"}

#: Code words that pin the class of a vague 400/422, checked in this order.
CODE_WORDS: tuple[tuple[frozenset[str], type[ProviderError]], ...] = (
    (frozenset({"missing", "malformed", "base64", "field", "param", "parameter", "large",
                "size", "payload"}), ProviderProtocolError),
    (frozenset({"credit", "credits", "quota", "balance"}), ProviderOutOfCredits),
    (frozenset({"rate", "throttled", "throttle"}), ProviderRateLimited),
    (frozenset({"auth", "unauthorized", "forbidden", "key"}), ProviderAuthError),
    (frozenset({"format", "decode", "corrupt", "unsupported", "unprocessable"}), ProviderRejected),
)


def expressible(options: OutputOptions) -> bool:
    """True when vendor flags can express `options` exactly."""
    margin = options.crop and options.crop_margin is not None and options.crop_margin.value > 0
    translucent = options.bg_color is not None and options.bg_color[3] != 255
    return not (margin or translucent)


def vendor_flags(options: OutputOptions) -> dict[str, str]:
    """The form fields for `options`; empty when they are not expressible (bare cutout)."""
    if not expressible(options):
        return {}
    flags = {
        "format": options.format,
        "channels": options.channels,
        "size": options.size,
        "crop": "true" if options.crop else "false",
        "despill": "true" if options.despill else "false",
    }
    if options.bg_color is not None:
        red, green, blue, _ = options.bg_color
        flags["bg_color"] = f"#{red:02x}{green:02x}{blue:02x}"
    return flags


@functools.lru_cache(maxsize=64)
def _endpoint(base_url: str) -> httpx.URL:
    """The parsed POST URL (parsing it costs more than the rest of the request line)."""
    return httpx.URL(base_url.rstrip("/") + PATH)


def build_request(config: BackgroundEraseConfig, request: ProviderRequest) -> httpx.Request:
    """The multipart POST /v2: the option flags, then the original bytes as `image_file`."""
    image = FilePart("image_file", f"image.{request.image_format}",
                     MEDIA_TYPES[request.image_format], request.image)
    body, content_type = multipart(vendor_flags(request.options), [image])
    return httpx.Request(
        "POST", _endpoint(config.base_url),
        headers={"x-api-key": config.api_key or "", "content-type": content_type},
        content=body,
    )


def parse_response(
    response: httpx.Response, provider: str, options: OutputOptions
) -> ProviderResult:
    """The image of a 2xx answer (media type sniffed)."""
    found = sniff_format(response.content)
    if found not in _FORMATS.values():
        raise ProviderProtocolError(
            f"{provider}: {PATH} answered {response.status_code} without an image body",
            provider, status=response.status_code,
        )
    exact = expressible(options)
    return ProviderResult(
        data=response.content,
        media_type=MEDIA_TYPES[found],
        kind="mask" if exact and options.channels == "alpha" else "cutout",
        provider=provider,
        final=exact and found == _FORMATS[options.format],
        metadata={"flags": "sent" if exact else "none", "format": found},
    )


def error_code(status: int, body: bytes) -> object:
    """The error `code`, top level or under `error` (sanitised by the shared layer)."""
    decoded = json_object(body) or {}
    nested = decoded.get("error")
    return nested.get("code") if isinstance(nested, dict) else decoded.get("code")


def refine(status: int, code: str | None) -> type[ProviderError] | None:
    """For the vague 400/422, the code's words pin the class."""
    if status not in (400, 422) or code is None:
        return None
    words = set(re.split(r"[_.-]", code))
    return next((cls for vocab, cls in CODE_WORDS if words & vocab), None)


ERRORS = ErrorMap(
    table=with_defaults({413: ProviderProtocolError, 422: ProviderRejected}),
    code=error_code,
    refine=refine,
)


def build_health_request(config: BackgroundEraseConfig) -> httpx.Request:
    """GET /v2/health."""
    url = config.base_url.rstrip("/") + HEALTH_PATH
    return httpx.Request("GET", url, headers={"x-api-key": config.api_key or ""})


def capabilities(config: BackgroundEraseConfig) -> Capabilities:
    """What this adapter does natively and accepts, for `config`."""
    return Capabilities(
        output="cutout",
        native=NATIVE,
        input_formats=IMAGE_FORMATS,
        cost=config.cost,
        rate_limit=config.rate_limit,
    )


class BackgroundEraseProvider:
    """BackgroundErase v2: does format, channels, size, crop, bg_color and despill itself."""

    def __init__(
        self, name: str, config: BackgroundEraseConfig, client: httpx.AsyncClient
    ) -> None:
        self.name = name
        self._config = config
        self._http = VendorHTTP(name, client, ERRORS, config.timeout_s, config.api_key)
        self.capabilities = capabilities(config)

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Send the original with the flags; pass the vendor's answer through."""
        started = time.monotonic()
        response = await self._http.call(
            build_request(self._config, request), PATH, request.deadline
        )
        result = parse_response(response, self.name, request.options)
        result.latency_s = time.monotonic() - started
        result.cost = self._config.cost
        return result

    async def health(self) -> bool:
        """True when GET /v2/health answers 2xx in time."""
        return await self._http.healthy(build_health_request(self._config), HEALTH_TIMEOUT_S)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to the app."""
