"""rembg server adapter (`rembg s`): `POST /api/remove` multipart `file` + form fields, no auth.

The model and the alpha-matting flags are provider config, sent as the form fields `model`, `a`,
`af`, `ab`, `ae`, `ppm` and `om`; `bgc` (a query parameter) is never sent. The server always
answers a PNG of the input's size (EXIF applied), so every output option is emulated.

Status -> error (vendor notes `rembg-server.md`):
    422 protocol (FastAPI validation: our field was refused) · 400 protocol (GET-only URL checks)
    429 rate limited (a proxy in front may send it) · 500 and other 5xx unavailable (the gateway
        already decoded the image, so a 500 is the server's: model download, memory, a bug)
Health: `GET /openapi.json` (FastAPI's, always mounted; the server has no health route).
"""

from __future__ import annotations

import time

import httpx

from providers._http import BARE_ERRORS, VendorHTTP
from providers.base import IMAGE_FORMATS, Capabilities, ProviderRequest, ProviderResult
from providers.errors import ProviderProtocolError
from providers.images import MEDIA_TYPES, sniff_format
from providers.multipart import FilePart, multipart
from providers.rembg_config import RembgConfig

PATH = "/api/remove"
HEALTH_PATH = "/openapi.json"
HEALTH_TIMEOUT_S = 5.0


def form_fields(config: RembgConfig) -> dict[str, str]:
    """The server's option fields for this provider's config."""
    fields = {
        "model": config.model,
        "a": "true" if config.alpha_matting else "false",
        "om": "true" if config.only_mask else "false",
        "ppm": "true" if config.post_process_mask else "false",
    }
    if config.alpha_matting:
        fields["af"] = str(config.alpha_matting_foreground_threshold)
        fields["ab"] = str(config.alpha_matting_background_threshold)
        fields["ae"] = str(config.alpha_matting_erode_size)
    return fields


def build_request(config: RembgConfig, request: ProviderRequest) -> httpx.Request:
    """The multipart POST /api/remove with the original bytes."""
    fmt = request.image_format
    body, content_type = multipart(
        form_fields(config), [FilePart("file", f"image.{fmt}", MEDIA_TYPES[fmt], request.image)]
    )
    return httpx.Request(
        "POST", config.base_url.rstrip("/") + PATH, content=body,
        headers={"Accept": "image/png", "content-type": content_type},
    )


def parse_response(response: httpx.Response, provider: str, config: RembgConfig) -> ProviderResult:
    """The PNG of a 2xx answer: a mask with `only_mask`, else an RGBA cutout."""
    if sniff_format(response.content) != "png":
        raise ProviderProtocolError(
            f"{provider}: {PATH} answered {response.status_code} without a PNG body",
            provider, status=response.status_code,
        )
    return ProviderResult(
        data=response.content,
        media_type="image/png",
        kind="mask" if config.only_mask else "cutout",
        provider=provider,
        metadata={"model": config.model, "alpha_matting": str(config.alpha_matting).lower()},
    )


def capabilities(config: RembgConfig) -> Capabilities:
    """What this adapter does natively and accepts, for `config`."""
    return Capabilities(
        output="mask" if config.only_mask else "cutout", native=frozenset(),
        input_formats=IMAGE_FORMATS, cost=config.cost, rate_limit=config.rate_limit,
    )


class RembgProvider:
    """A self-hosted rembg server: a full-size PNG; every output option is emulated."""

    def __init__(self, name: str, config: RembgConfig, client: httpx.AsyncClient) -> None:
        self.name = name
        self._config = config
        self._http = VendorHTTP(name, client, BARE_ERRORS, config.timeout_s, None, keyless=True)
        self.capabilities = capabilities(config)

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Post the original; return the server's PNG."""
        started = time.monotonic()
        response = await self._http.call(
            build_request(self._config, request), PATH, request.deadline
        )
        result = parse_response(response, self.name, self._config)
        result.latency_s = time.monotonic() - started
        result.cost = self._config.cost
        return result

    async def health(self) -> bool:
        """True when the server answers GET /openapi.json with 2xx."""
        request = httpx.Request("GET", self._config.base_url.rstrip("/") + HEALTH_PATH)
        return await self._http.healthy(request, HEALTH_TIMEOUT_S)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to the app."""
