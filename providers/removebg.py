"""remove.bg v1.0 adapter: `POST /v1.0/removebg` multipart `image_file` + options, X-Api-Key auth.

Native: format, channels, size, crop, bg_color, roi, scale, position, shadow (`shadow_type=drop`)
and bg_image (`bg_image_file`). `crop_margin` is emulated: the vendor's `%` is of the subject's
size per side, the gateway's of the box's longer side, and a capability names an option, not its
units (with a margin the planner emulates every option); `zip` too (a pass-through must be an
image). A request the vendor cannot express exactly (`channels=alpha` outside PNG, crop with
scale or position, bg_image with bg_color, a full-size PNG over its 10 MP PNG cap) is sent bare
(`size=full`, `format=png`: never the vendor's defaults `preview` and `auto`); post-processing
does the rest (`final=False`). `format=jpg` without a background sends white.

Status -> error (vendor notes `removebg-v1.md`; body `{"errors": [{"title", "code", "detail"}]}`):
    400 protocol (invalid parameters), but `unknown_foreground` / `failed_to_read_image` rejected
    402 out of credits · 403 auth (`auth_failed`, `ip_address_unauthorized`)
    429 rate limited (`Retry-After`, else `X-RateLimit-Reset`) · 5xx unavailable
Cost: `cost` x `X-Credits-Charged` (0.25 for a preview when the header is missing).
Credits and health: `GET /v1.0/account` -> `data.attributes.credits.total`.
"""

from __future__ import annotations

import time

import httpx

from providers._http import (
    CreditHeaders,
    ErrorMap,
    VendorHTTP,
    attempt_cost,
    json_object,
    safe_code,
)
from providers.base import Capabilities, Length, OutputOptions, ProviderRequest, ProviderResult
from providers.errors import ProviderError, ProviderProtocolError, ProviderRejected
from providers.images import MEDIA_TYPES, sniff_format
from providers.multipart import FilePart, multipart
from providers.removebg_config import RemoveBgConfig
from providers.uploads import ImagePart, image_part

PATH = "/v1.0/removebg"
ACCOUNT_PATH = "/v1.0/account"
ACCOUNT_TIMEOUT_S = 5.0
MAX_UPLOAD_BYTES = 22 * 1024 * 1024
PNG_MAX_PIXELS = 10_000_000
INPUT_FORMATS = frozenset({"jpeg", "png", "webp"})
NATIVE = frozenset({
    "format", "channels", "size", "crop", "bg_color", "roi", "scale", "position", "shadow",
    "bg_image",
})
_FORMATS = {"png": "png", "jpg": "jpeg", "webp": "webp"}
REJECTED_CODES = frozenset({"unknown_foreground", "failed_to_read_image"})


def error_code(status: int, body: bytes) -> object:
    """`errors[0].code` of the vendor's error envelope."""
    errors = (json_object(body) or {}).get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    return first.get("code") if isinstance(first, dict) else None


def refine(status: int, code: str | None) -> type[ProviderError] | None:
    """A 400 that says the image itself cannot be done is the client's, not ours."""
    return ProviderRejected if status == 400 and code in REJECTED_CODES else None


ERRORS = ErrorMap(code=error_code, refine=refine)
CREDIT_HEADERS = CreditHeaders(charged="x-credits-charged")


def expressible(options: OutputOptions, width: int, height: int) -> bool:
    """True when vendor fields express `options` exactly for a `width` x `height` image."""
    if options.crop and options.crop_margin is not None and options.crop_margin.value > 0:
        return False
    if options.channels == "alpha" and options.format != "png":
        return False
    placed = options.scale is not None or options.position is not None
    if (options.crop and placed) or (options.bg_image is not None and options.bg_color):
        return False  # the order of crop and placement is undocumented; one background source
    return not (options.format == "png" and options.size == "full"
                and width * height > PNG_MAX_PIXELS)


def _length(length: Length) -> str:
    return f"{length.value:g}{length.unit}"


def placement_fields(options: OutputOptions) -> dict[str, str]:
    """`roi`, `scale`, `position` and the drop shadow, as the vendor spells them."""
    fields = {}
    if options.roi is not None:
        roi = options.roi
        fields["roi"] = " ".join(_length(v) for v in (roi.x1, roi.y1, roi.x2, roi.y2))
    if options.scale is not None:
        fields["scale"] = f"{options.scale:g}%"
        # The vendor centres a scaled subject unless told; the gateway keeps its place.
        fields["position"] = "original"
    if options.position is not None:
        fields["position"] = "{:g}% {:g}%".format(*options.position)
    if options.shadow and options.channels == "rgba":
        fields["shadow_type"] = "3D" if options.shadow_type == "3d" else options.shadow_type
        fields["shadow_opacity"] = str(options.shadow_opacity)
    return fields


def vendor_fields(options: OutputOptions, exact: bool, subject_type: str) -> dict[str, str]:
    """The form fields: the options when `exact`, else the bare full-size PNG cutout."""
    if not exact:
        return {"size": "full", "format": "png", "channels": "rgba", "type": subject_type}
    fields = {
        "size": options.size, "format": options.format, "channels": options.channels,
        "crop": "true" if options.crop else "false", "type": subject_type,
        **placement_fields(options),
    }
    color = options.bg_color
    if color is None and options.format == "jpg" and options.bg_image is None:
        color = (255, 255, 255, 255)
    if color is not None and options.channels == "rgba":
        red, green, blue, alpha = color
        fields["bg_color"] = f"{red:02x}{green:02x}{blue:02x}" + (
            "" if alpha == 255 else f"{alpha:02x}"
        )
    return fields


def build_request(
    config: RemoveBgConfig, part: ImagePart, fields: dict[str, str], background: bytes | None
) -> httpx.Request:
    """The multipart POST /v1.0/removebg (with `bg_image_file` when a background is sent)."""
    files = [FilePart("image_file", part.filename, part.media_type, part.data)]
    if background is not None:
        fmt = sniff_format(background) or "png"
        files.append(FilePart("bg_image_file", f"background.{fmt}", MEDIA_TYPES[fmt], background))
    body, content_type = multipart(fields, files)
    return httpx.Request(
        "POST", config.base_url.rstrip("/") + PATH, content=body,
        headers={"X-Api-Key": config.api_key or "", "Accept": "image/*",
                 "content-type": content_type},
    )


def parse_response(
    response: httpx.Response, provider: str, options: OutputOptions, exact: bool
) -> ProviderResult:
    """The image of a 2xx answer (a ZIP or JSON body is a protocol error)."""
    found = sniff_format(response.content)
    if found not in _FORMATS.values():
        raise ProviderProtocolError(
            f"{provider}: {PATH} answered {response.status_code} without an image body",
            provider, status=response.status_code,
        )
    metadata = {"fields": "options" if exact else "bare", "format": found}
    detected = safe_code(response.headers.get("x-type"))
    if detected:
        metadata["type"] = detected
    return ProviderResult(
        data=response.content,
        media_type=MEDIA_TYPES[found],
        kind="mask" if exact and options.channels == "alpha" else "cutout",
        provider=provider,
        final=exact and found == _FORMATS[options.format],
        metadata=metadata,
    )


def parse_account(response: httpx.Response, provider: str) -> float | None:
    """`data.attributes.credits.total` of a 2xx account answer."""
    body = json_object(response.content)
    if body is None:
        raise ProviderProtocolError(f"{provider}: {ACCOUNT_PATH} body is not JSON", provider)
    node: object = body
    for name in ("data", "attributes", "credits", "total"):
        node = node.get(name) if isinstance(node, dict) else None
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def capabilities(config: RemoveBgConfig) -> Capabilities:
    """What this adapter does natively and accepts, for `config`."""
    return Capabilities(
        output="cutout", native=NATIVE, max_megapixels=25.0, cost=config.cost,
        rate_limit=config.rate_limit,
    )


class RemoveBgProvider:
    """remove.bg: every option but crop_margin, despill, zip and trimap done by the vendor."""

    def __init__(self, name: str, config: RemoveBgConfig, client: httpx.AsyncClient) -> None:
        self.name = name
        self._config = config
        self._http = VendorHTTP(
            name, client, ERRORS, config.timeout_s, config.api_key, CREDIT_HEADERS
        )
        self.capabilities = capabilities(config)

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Upload the image with the option fields; pass the answer through when exact."""
        self._http.check(request.deadline)
        part = await image_part(request, INPUT_FORMATS, MAX_UPLOAD_BYTES, self.name)
        exact = expressible(request.options, request.width, request.height)
        fields = vendor_fields(request.options, exact, self._config.subject_type)
        started = time.monotonic()
        background = request.options.bg_image if exact else None
        response = await self._http.call(
            build_request(self._config, part, fields, background), PATH, request.deadline
        )
        result = parse_response(response, self.name, request.options, exact)
        result.latency_s = time.monotonic() - started
        estimate = 0.25 if fields["size"] == "preview" else 1.0
        charged = self._http.credits(response).charged
        result.cost = attempt_cost(self._config.cost, charged, estimate)
        result.metadata["credits_charged"] = f"{charged if charged is not None else estimate:g}"
        return result

    async def credits(self) -> float | None:
        """The account's total credits from GET /v1.0/account."""
        response = await self._http.call(self._account(), ACCOUNT_PATH, cap_s=ACCOUNT_TIMEOUT_S)
        return parse_account(response, self.name)

    async def health(self) -> bool:
        """True when GET /v1.0/account answers 2xx (the vendor has no health call)."""
        return await self._http.healthy(self._account(), ACCOUNT_TIMEOUT_S)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to the app."""

    def _account(self) -> httpx.Request:
        return httpx.Request(
            "GET", self._config.base_url.rstrip("/") + ACCOUNT_PATH,
            headers={"X-Api-Key": self._config.api_key or "", "Accept": "application/json"},
        )
