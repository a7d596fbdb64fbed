"""Reading `POST /v1/jobs`: JSON items or repeated multipart `image_file` parts, options, webhook.

JSON: `{"items": [{"image_base64": …} | {"image_url": …}, …], "options": {…}, "webhook_url": …}`,
decoded into typed structs (no free nesting). Multipart: repeated `image_file` (or `file`/`image`)
parts and/or `image_url` fields, option fields and `webhook_url`, streamed through the `multipart`
parser with the job's own part limit (a job has far more parts than one removal). Options are
checked here, once, with the unified API's parser.
"""

from __future__ import annotations

import msgspec
from litestar import Request
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from gateway.api.inputs import IMAGE_FIELDS, decode_base64
from gateway.api.options import OPTION_KEYS, parse_options
from gateway.errors import InvalidOption, MissingImage, PayloadTooLarge
from gateway.settings import Settings

_TEXT_FIELD_BYTES = 64 * 1024
_SLACK_PARTS = 100


class JobInput(msgspec.Struct, frozen=True):
    """A job's items (bytes, or a URL for the worker to fetch), options and webhook."""

    images: list[bytes | None]
    urls: list[str | None]
    options: tuple[tuple[str, str], ...]
    webhook_url: str | None


class _ItemIn(msgspec.Struct, forbid_unknown_fields=True):
    image_base64: str | None = None
    image_url: str | None = None


class _JobIn(msgspec.Struct, forbid_unknown_fields=True):
    items: list[_ItemIn]
    options: dict[str, str | bool | int | float] = msgspec.field(default_factory=dict)
    webhook_url: str | None = None


_JOB_DECODER = msgspec.json.Decoder(_JobIn)


def _option_value(value: str | bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read_json(raw: bytes, max_bytes: int) -> JobInput:
    try:
        body = _JOB_DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        raise InvalidOption(f"the JSON body: {exc}") from None
    except msgspec.DecodeError:
        raise InvalidOption("the JSON body is malformed") from None
    images: list[bytes | None] = []
    urls: list[str | None] = []
    for index, item in enumerate(body.items):
        if (item.image_base64 is None) == (item.image_url is None):
            raise InvalidOption(f"`items[{index}]` must have exactly one of image_base64, "
                                "image_url")
        if item.image_url is not None:
            images.append(None)
            urls.append(item.image_url.strip())
        else:
            images.append(decode_base64(f"items[{index}].image_base64", item.image_base64 or "",
                                        max_bytes))
            urls.append(None)
    options = tuple((key, _option_value(value)) for key, value in body.options.items())
    return JobInput(images, urls, options, body.webhook_url)


async def _read_multipart(request: Request, boundary: str, settings: Settings) -> JobInput:
    images: list[bytes | None] = []
    urls: list[str | None] = []
    options: list[tuple[str, str]] = []
    webhook: str | None = None
    max_bytes = settings.server.max_upload_bytes
    parser = PushMultipartParser(boundary, max_segment_size=max_bytes,
                                 max_segment_count=settings.jobs.max_items + _SLACK_PARTS)
    segment: MultipartSegment | None = None
    chunks: list[bytes] = []
    try:
        async for data in request.stream():
            for event in parser.parse(data):
                if isinstance(event, MultipartSegment):
                    segment, chunks = event, []
                elif event:
                    chunks.append(bytes(event))
                elif segment is not None:
                    name, value = (segment.name or "").strip().lower(), b"".join(chunks)
                    if name in IMAGE_FIELDS:
                        if segment.filename is None:
                            raise InvalidOption(f"field `{name}` must be a file upload")
                        images.append(value)
                        urls.append(None)
                        continue
                    if len(value) > _TEXT_FIELD_BYTES:
                        raise InvalidOption(f"field `{name:.40}` is too long")
                    text = value.decode("utf-8", errors="replace").strip()
                    if name == "image_url":
                        images.append(None)
                        urls.append(text)
                    elif name == "webhook_url":
                        webhook = text
                    else:
                        options.append((segment.name or "", text))
        parser.close()
    except ParserLimitReached:
        raise PayloadTooLarge(f"a part is over {max_bytes} bytes or the job has more than "
                              f"{settings.jobs.max_items} items ([jobs] max_items)") from None
    except ParserError:
        raise InvalidOption("the multipart body is malformed") from None
    return JobInput(images, urls, tuple(options), webhook)


async def read_job(request: Request, settings: Settings) -> JobInput:
    """The job in the request's body, within `[jobs] max_items` and `max_job_bytes`."""
    content_type, params = request.content_type
    if content_type == "multipart/form-data" and params.get("boundary"):
        given = await _read_multipart(request, params["boundary"], settings)
    elif content_type == "application/json" or content_type.endswith("+json"):
        given = _read_json(await request.body(), settings.server.max_upload_bytes)
    else:
        raise InvalidOption("send the job as JSON {\"items\": [...]} or multipart/form-data "
                            "with image_file parts")
    _check_limits(given.images, settings)
    parse_options(given.options, OPTION_KEYS,
                  routing_key_field=settings.routing.routing_key_field)
    if given.webhook_url is not None and not given.webhook_url.strip():
        raise InvalidOption("option `webhook_url` must be a URL")
    return given


def _check_limits(images: list[bytes | None], settings: Settings) -> None:
    jobs = settings.jobs
    if not images:
        raise MissingImage("a job needs at least one item: JSON `items` or multipart "
                           "`image_file` parts")
    if len(images) > jobs.max_items:
        raise PayloadTooLarge(f"the job has {len(images)} items; the limit is {jobs.max_items} "
                              "([jobs] max_items)")
    total = sum(len(image) for image in images if image is not None)
    if total > jobs.max_job_bytes:
        raise PayloadTooLarge(f"the job's images are {total} bytes; the limit is "
                              f"{jobs.max_job_bytes} ([jobs] max_job_bytes)")
