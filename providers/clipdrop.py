"""Clipdrop adapter: `POST /remove-background/v1` multipart `image_file`, x-api-key auth.

The vendor has no options besides the output format, chosen by `Accept` (`image/png`,
`image/webp`, `image/jpg`): native is `format` only, and `jpg` is asked as PNG and flattened by
post-processing (`final=False`) since the vendor's JPEG fill is undocumented. The answer is the
input's size. `transparency_handling` (config) travels as a form field.

Status -> error (vendor notes `clipdrop-remove-background.md`; body `{"error": "<message>"}`):
    400 rejected (the adapter guarantees the field, the format and <= 25 MP, so the image is at
        fault) · 401, 403 auth · 402 out of credits · 406 protocol (our Accept)
    429 rate limited (`Retry-After` if ever sent) · 5xx unavailable
Cost: `cost` x `x-credits-consumed`; `x-remaining-credits` is the balance `/v1/credits` reports
(the vendor has no account call, so there is no health check either), and a reported 0 makes the
next attempt out of credits without a call (a 402 pre-empted, as the notes advise).
"""

from __future__ import annotations

import time

import httpx

from providers._http import CreditHeaders, ErrorMap, VendorHTTP, attempt_cost, with_defaults
from providers.base import Capabilities, OutputOptions, ProviderRequest, ProviderResult
from providers.clipdrop_config import ClipdropConfig
from providers.errors import ProviderProtocolError, ProviderRejected
from providers.images import MEDIA_TYPES, sniff_format
from providers.multipart import FilePart, multipart
from providers.uploads import ImagePart, image_part

PATH = "/remove-background/v1"
MAX_UPLOAD_BYTES = 30 * 1024 * 1024
INPUT_FORMATS = frozenset({"jpeg", "png", "webp"})
#: Accept header per requested format; `jpg` is fetched as PNG and flattened locally.
ACCEPT = {"png": "image/png", "webp": "image/webp", "jpg": "image/png"}
_SNIFFED = {"image/png": "png", "image/webp": "webp"}

ERRORS = ErrorMap(table=with_defaults({400: ProviderRejected, 406: ProviderProtocolError}))
CREDIT_HEADERS = CreditHeaders(charged="x-credits-consumed", remaining="x-remaining-credits")


def build_request(config: ClipdropConfig, part: ImagePart, accept: str) -> httpx.Request:
    """The multipart POST /remove-background/v1."""
    body, content_type = multipart(
        {"transparency_handling": config.transparency_handling},
        [FilePart("image_file", part.filename, part.media_type, part.data)],
    )
    return httpx.Request(
        "POST", config.base_url.rstrip("/") + PATH, content=body,
        headers={"x-api-key": config.api_key or "", "Accept": accept,
                 "content-type": content_type},
    )


def parse_response(
    response: httpx.Response, provider: str, options: OutputOptions, accept: str
) -> ProviderResult:
    """The image of a 2xx answer, which must be in the format asked for."""
    found = sniff_format(response.content)
    if found != _SNIFFED[accept]:
        raise ProviderProtocolError(
            f"{provider}: {PATH} answered {response.status_code} without a {_SNIFFED[accept]} body",
            provider, status=response.status_code,
        )
    return ProviderResult(
        data=response.content,
        media_type=MEDIA_TYPES[found],
        kind="cutout",
        provider=provider,
        final=options.format == found,
        metadata={"format": found},
    )


def capabilities(config: ClipdropConfig) -> Capabilities:
    """What this adapter does natively and accepts, for `config`."""
    return Capabilities(
        output="cutout", native=frozenset({"format"}), max_megapixels=25.0,
        cost=config.cost, rate_limit=config.rate_limit,
    )


class ClipdropProvider:
    """Clipdrop: a same-size cutout as PNG or WebP; everything else is emulated."""

    def __init__(self, name: str, config: ClipdropConfig, client: httpx.AsyncClient) -> None:
        self.name = name
        self._config = config
        self._http = VendorHTTP(
            name, client, ERRORS, config.timeout_s, config.api_key, CREDIT_HEADERS
        )
        self.capabilities = capabilities(config)

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Upload the image; ask for the requested format by `Accept`."""
        self._http.check(request.deadline)
        part = await image_part(request, INPUT_FORMATS, MAX_UPLOAD_BYTES, self.name)
        accept = ACCEPT[request.options.format]
        started = time.monotonic()
        response = await self._http.call(
            build_request(self._config, part, accept), PATH, request.deadline
        )
        result = parse_response(response, self.name, request.options, accept)
        result.latency_s = time.monotonic() - started
        credits = self._http.credits(response)
        result.cost = attempt_cost(self._config.cost, credits.charged)
        if credits.remaining is not None:
            result.metadata["remaining_credits"] = f"{credits.remaining:g}"
        return result

    async def credits(self) -> float | None:
        """The balance the vendor reported on its last answer (None before the first call)."""
        return self._http.remaining_credits

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to the app."""
