"""Photoroom adapter: `POST /v1/segment` multipart `image_file` + option fields, x-api-key auth.

Native: format, channels, size, crop, bg_color (opaque: the vendor takes `#RRGGBB` or a name)
and despill. No crop margin, no translucent colour, and `channels=alpha` only as PNG: such a
request is sent bare (no option fields: the vendor's defaults are a full-size RGBA PNG) and
post-processing does the rest (`final=False`). `format=jpg` without `bg_color` sends `#FFFFFF`
(the vendor's fill for JPEG is undocumented).

Status -> error (vendor notes `photoroom-v1-segment.md`; `{"detail", "status_code", "type"}`):
    400 rejected (bad input), but `type` `missing_image` or `invalid_*` protocol (our request)
    402 out of credits · 403 auth · 429 rate limited (`Retry-After` when sent) · 5xx unavailable
Cost: `cost` per image, 0.25 of it for `size=preview` (no credit headers are documented); 0 with a
`sandbox_` key (free, watermarked results).
Credits and health: `GET {account_url}/v1/account` -> `credits.available`.
"""

from __future__ import annotations

import time

import httpx

from providers._http import ErrorMap, VendorHTTP, attempt_cost, json_object, with_defaults
from providers.base import Capabilities, OutputOptions, ProviderRequest, ProviderResult
from providers.errors import ProviderError, ProviderProtocolError, ProviderRejected
from providers.images import MEDIA_TYPES, sniff_format
from providers.multipart import FilePart, multipart
from providers.photoroom_config import PhotoroomConfig
from providers.uploads import ImagePart, image_part

PATH = "/v1/segment"
ACCOUNT_PATH = "/v1/account"
ACCOUNT_TIMEOUT_S = 5.0
MAX_UPLOAD_BYTES = 30 * 1024 * 1024
INPUT_FORMATS = frozenset({"jpeg", "png", "webp"})
NATIVE = frozenset({"format", "channels", "size", "crop", "bg_color", "despill"})
_FORMATS = {"png": "png", "jpg": "jpeg", "webp": "webp"}


def error_code(status: int, body: bytes) -> object:
    """The `type` of the vendor's error body."""
    return (json_object(body) or {}).get("type")


def refine(status: int, code: str | None) -> type[ProviderError] | None:
    """A 400 naming our request (missing image, invalid field) is ours; else the image's."""
    if status != 400:
        return None
    ours = code is not None and (code == "missing_image" or code.startswith("invalid"))
    return ProviderProtocolError if ours else None


ERRORS = ErrorMap(table=with_defaults({400: ProviderRejected}), code=error_code, refine=refine)


def expressible(options: OutputOptions) -> bool:
    """True when the vendor's fields express `options` exactly."""
    margin = options.crop and options.crop_margin is not None and options.crop_margin.value > 0
    translucent = options.bg_color is not None and options.bg_color[3] != 255
    alpha_not_png = options.channels == "alpha" and options.format != "png"
    return not (margin or translucent or alpha_not_png)


def vendor_fields(options: OutputOptions) -> dict[str, str]:
    """The form fields of `options` (call only when `expressible`)."""
    fields = {
        "format": options.format, "channels": options.channels, "size": options.size,
        "crop": "true" if options.crop else "false",
        "despill": "true" if options.despill else "false",
    }
    color = options.bg_color
    if color is None and options.format == "jpg":
        color = (255, 255, 255, 255)
    if color is not None and options.channels == "rgba":
        fields["bg_color"] = "#{:02X}{:02X}{:02X}".format(*color[:3])
    return fields


def build_request(
    config: PhotoroomConfig, part: ImagePart, fields: dict[str, str]
) -> httpx.Request:
    """The multipart POST /v1/segment."""
    body, content_type = multipart(
        fields, [FilePart("image_file", part.filename, part.media_type, part.data)]
    )
    return httpx.Request(
        "POST", config.base_url.rstrip("/") + PATH, content=body,
        headers={"x-api-key": config.api_key or "", "content-type": content_type,
                 "Accept": "image/png, image/jpeg, image/webp"},
    )


def parse_response(
    response: httpx.Response, provider: str, options: OutputOptions, exact: bool
) -> ProviderResult:
    """The image of a 2xx answer, with the vendor's uncertainty score."""
    found = sniff_format(response.content)
    if found not in _FORMATS.values():
        raise ProviderProtocolError(
            f"{provider}: {PATH} answered {response.status_code} without an image body",
            provider, status=response.status_code,
        )
    metadata = {"fields": "options" if exact else "bare", "format": found}
    score = response.headers.get("x-uncertainty-score", "")
    if score.replace("-", "", 1).replace(".", "", 1).isdigit():
        metadata["uncertainty"] = score
    return ProviderResult(
        data=response.content,
        media_type=MEDIA_TYPES[found],
        kind="mask" if exact and options.channels == "alpha" else "cutout",
        provider=provider,
        final=exact and found == _FORMATS[options.format],
        metadata=metadata,
    )


def parse_account(response: httpx.Response, provider: str) -> float | None:
    """`credits.available` of a 2xx account answer."""
    body = json_object(response.content)
    if body is None:
        raise ProviderProtocolError(f"{provider}: {ACCOUNT_PATH} body is not JSON", provider)
    credits = body.get("credits")
    value = credits.get("available") if isinstance(credits, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def capabilities(config: PhotoroomConfig) -> Capabilities:
    """What this adapter does natively and accepts, for `config`."""
    return Capabilities(
        output="cutout", native=NATIVE, max_megapixels=25.0, cost=config.cost,
        rate_limit=config.rate_limit,
    )


class PhotoroomProvider:
    """Photoroom: format, channels, size, crop, opaque bg_color and despill done by the vendor."""

    def __init__(self, name: str, config: PhotoroomConfig, client: httpx.AsyncClient) -> None:
        self.name = name
        self._config = config
        self._http = VendorHTTP(name, client, ERRORS, config.timeout_s, config.api_key)
        self.capabilities = capabilities(config)

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Upload the image with the option fields; pass the answer through when exact."""
        self._http.check(request.deadline)
        part = await image_part(request, INPUT_FORMATS, MAX_UPLOAD_BYTES, self.name)
        exact = expressible(request.options)
        fields = vendor_fields(request.options) if exact else {}
        started = time.monotonic()
        response = await self._http.call(
            build_request(self._config, part, fields), PATH, request.deadline
        )
        result = parse_response(response, self.name, request.options, exact)
        result.latency_s = time.monotonic() - started
        preview = fields.get("size") == "preview"
        price = 0.0 if (self._config.api_key or "").startswith("sandbox_") else self._config.cost
        result.cost = attempt_cost(price, None, 0.25 if preview else 1.0)
        return result

    async def credits(self) -> float | None:
        """Available credits from GET /v1/account."""
        response = await self._http.call(self._account(), ACCOUNT_PATH, cap_s=ACCOUNT_TIMEOUT_S)
        return parse_account(response, self.name)

    async def health(self) -> bool:
        """True when GET /v1/account answers 2xx (the vendor has no health call)."""
        return await self._http.healthy(self._account(), ACCOUNT_TIMEOUT_S)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to the app."""

    def _account(self) -> httpx.Request:
        return httpx.Request(
            "GET", self._config.account_url.rstrip("/") + ACCOUNT_PATH,
            headers={"x-api-key": self._config.api_key or "", "Accept": "application/json"},
        )
