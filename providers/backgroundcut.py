"""BackgroundCut v3 adapter: trimap-guided matting through uploaded keys, `Authorization: Token`.

Flow (one request): upload the source (RGB JPEG) and the trimap (grayscale JPEG, same size) under
unique per-request keys -> process -> get-public-url -> plain GET of that URL. The download goes to
another host (object storage), so it carries no Authorization header: our key never leaves for it.

Status -> error on the vendor API:
    400 protocol (the vendor says *our* request was malformed: format, size mismatch, key suffix)
    401 auth · 402 out of credits · 404 protocol (an uploaded key is missing: our flow broke)
    429 rate limited · 504 timeout (matting ran over ~30 s) · other 5xx unavailable
On the download URL: 429 rate limited, 5xx unavailable, any other status protocol (an expired or
wrong signed URL is not our key being refused). Uploaded keys are left in the vendor's space: the v3
document has no delete call.
"""

from __future__ import annotations

import io
import re
import time
import uuid

import anyio.to_thread
import httpx
import msgspec
from PIL import Image

from providers._http import BARE_ERRORS, ErrorMap, VendorHTTP, with_defaults
from providers.backgroundcut_config import BackgroundCutConfig
from providers.base import IMAGE_FORMATS, Capabilities, ProviderRequest, ProviderResult
from providers.errors import ProviderProtocolError, ProviderRejected, ProviderTimeout
from providers.images import MEDIA_TYPES, encode_jpeg, open_rgb, sniff_format

UPLOAD_PATH = "/v3/file-ops/upload/"
PROCESS_PATH = "/v3/tools/ai/matting/process/"
PUBLIC_URL_PATH = "/v3/file-ops/get-public-url/"
_EXIF_ORIENTATION = 0x0112
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9_-]")
#: Body formats accepted from the download, per output type.
RESULT_FORMATS = {"rgba": frozenset({"png", "webp"}), "mask": frozenset({"jpeg", "png"})}

#: 400 means *our* request was malformed (format, size mismatch, key suffix); 403 is undocumented.
API_ERRORS = ErrorMap(table=with_defaults({403: ProviderProtocolError, 404: ProviderProtocolError,
                                           504: ProviderTimeout}))


class Uploads(msgspec.Struct, frozen=True):
    """The two JPEGs to upload and their common pixel size."""

    source: bytes
    trimap: bytes
    width: int
    height: int


class Keys(msgspec.Struct, frozen=True):
    """Object keys of one request in the vendor's space."""

    source: str
    trimap: str
    output: str


def prepare_uploads(
    request: ProviderRequest, config: BackgroundCutConfig, provider: str
) -> Uploads:
    """RGB JPEG source and grayscale JPEG trimap of equal size; CPU work, run it in a thread."""
    if request.trimap is None:
        raise ProviderProtocolError(f"{provider}: matting needs a trimap", provider)
    try:
        source, size = _source_jpeg(request, config.source_quality)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderRejected(f"{provider}: the image cannot be decoded", provider) from exc
    try:
        with Image.open(io.BytesIO(request.trimap)) as opened:
            trimap = opened.convert("L")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderProtocolError(f"{provider}: the trimap cannot be decoded", provider) from exc
    if trimap.size != size:
        raise ProviderProtocolError(
            f"{provider}: trimap is {trimap.width}x{trimap.height}, image is {size[0]}x{size[1]}",
            provider,
        )
    return Uploads(source, encode_jpeg(trimap, config.trimap_quality), size[0], size[1])


def _source_jpeg(request: ProviderRequest, quality: int) -> tuple[bytes, tuple[int, int]]:
    """The original if it is an upright RGB JPEG (no second lossy pass), else a re-encode."""
    if request.image_format == "jpeg":
        with Image.open(io.BytesIO(request.image)) as opened:
            upright = opened.getexif().get(_EXIF_ORIENTATION, 1) == 1
            if opened.mode == "RGB" and upright:
                return request.image, opened.size
    image = open_rgb(request.image)
    return encode_jpeg(image, quality), image.size


def object_keys(prefix: str, request_id: str, token: str, output_type: str) -> Keys:
    """Unique keys `{prefix}/{request_id}-{token}/…`; the request id is reduced to safe chars."""
    safe_id = _UNSAFE_KEY_CHARS.sub("_", request_id)[:64] or "request"
    folder = "/".join(part for part in (prefix.strip("/"), f"{safe_id}-{token}") if part)
    output = "result.png" if output_type == "rgba" else "result.jpg"
    return Keys(f"{folder}/source.jpg", f"{folder}/trimap.jpg", f"{folder}/{output}")


def _api(config: BackgroundCutConfig, path: str) -> str:
    return config.base_url.rstrip("/") + path


def _auth(config: BackgroundCutConfig) -> dict[str, str]:
    return {"Authorization": f"Token {config.api_key or ''}"}


def build_upload_request(
    config: BackgroundCutConfig, key: str, data: bytes, filename: str
) -> httpx.Request:
    """Multipart upload of one JPEG (`file`) under `key`."""
    return httpx.Request(
        "POST", _api(config, UPLOAD_PATH), headers=_auth(config),
        files={"file": (filename, data, "image/jpeg")}, data={"key": key},
    )


def build_process_request(config: BackgroundCutConfig, keys: Keys) -> httpx.Request:
    """The matting call on the uploaded keys."""
    return httpx.Request(
        "POST", _api(config, PROCESS_PATH), headers=_auth(config),
        json={
            "input_key": keys.source,
            "trimap_key": keys.trimap,
            "output_key": keys.output,
            "output_type": config.output_type,
            "output_compression": config.output_compression,
        },
    )


def build_public_url_request(config: BackgroundCutConfig, key: str) -> httpx.Request:
    """Mint a public URL for `key`."""
    return httpx.Request(
        "POST", _api(config, PUBLIC_URL_PATH), headers=_auth(config), json={"key": key}
    )


def build_download_request(url: str) -> httpx.Request:
    """A plain GET of the public URL: deliberately without our Authorization header."""
    return httpx.Request("GET", url)


def _json_field(response: httpx.Response, provider: str, step: str, field: str) -> str:
    """A non-empty string field of a JSON body, or ProviderProtocolError."""
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError as exc:
        raise ProviderProtocolError(f"{provider}: {step} body is not JSON", provider) from exc
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise ProviderProtocolError(f"{provider}: {step} body lacks `{field}`", provider)
    return value


def parse_process_response(response: httpx.Response, provider: str) -> str:
    """The `output_key` of a 2xx matting answer."""
    return _json_field(response, provider, "process", "output_key")


def parse_public_url_response(response: httpx.Response, provider: str) -> str:
    """The absolute http(s) `url` of a 2xx public-URL answer."""
    url = _json_field(response, provider, "get-public-url", "url")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ProviderProtocolError(f"{provider}: public URL is malformed", provider) from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ProviderProtocolError(f"{provider}: public URL is not absolute http(s)", provider)
    return url


def parse_download_response(
    response: httpx.Response, provider: str, output_type: str
) -> tuple[bytes, str]:
    """The result image of a 2xx download and its sniffed media type."""
    found = sniff_format(response.content)
    if found not in RESULT_FORMATS[output_type]:
        raise ProviderProtocolError(
            f"{provider}: result download is not a {output_type} image", provider,
            status=response.status_code,
        )
    return response.content, MEDIA_TYPES[found]


def capabilities(config: BackgroundCutConfig) -> Capabilities:
    """What this adapter does natively and accepts, for `config`."""
    return Capabilities(
        output="cutout" if config.output_type == "rgba" else "mask",
        native=frozenset({"trimap"}),
        # The vendor takes JPEG only; the adapter converts anything the gateway accepts.
        input_formats=IMAGE_FORMATS,
        cost=config.cost,
        rate_limit=config.rate_limit,
        requires_trimap=True,
    )


class BackgroundCutProvider:
    """BackgroundCut v3 matting: needs a trimap; returns a full-size cutout (or matte)."""

    def __init__(self, name: str, config: BackgroundCutConfig, client: httpx.AsyncClient) -> None:
        self.name = name
        self._config = config
        self._http = VendorHTTP(name, client, API_ERRORS, config.timeout_s, config.api_key)
        self.capabilities = capabilities(config)

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Upload source and trimap, run matting, download the result."""
        self._http.check(request.deadline)
        uploads = await anyio.to_thread.run_sync(
            prepare_uploads, request, self._config, self.name
        )
        config, deadline = self._config, request.deadline
        keys = object_keys(config.key_prefix, request.request_id, uuid.uuid4().hex,
                           config.output_type)
        started = time.monotonic()
        for key, data, filename in (
            (keys.source, uploads.source, "source.jpg"), (keys.trimap, uploads.trimap, "trimap.jpg")
        ):
            await self._http.call(
                build_upload_request(config, key, data, filename), "upload", deadline
            )
        response = await self._http.call(build_process_request(config, keys), "process", deadline)
        output_key = parse_process_response(response, self.name)
        response = await self._http.call(
            build_public_url_request(config, output_key), "get-public-url", deadline
        )
        url = parse_public_url_response(response, self.name)
        # An expired or wrong signed URL is not our key being refused: status alone decides.
        response = await self._http.call(
            build_download_request(url), "result download", deadline, errors=BARE_ERRORS
        )
        data, media_type = parse_download_response(response, self.name, config.output_type)
        return ProviderResult(
            data=data,
            media_type=media_type,
            kind=self.capabilities.output,
            provider=self.name,
            latency_s=time.monotonic() - started,
            cost=config.cost,
            metadata={"output_key": output_key, "size": f"{uploads.width}x{uploads.height}"},
        )

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to the app."""
