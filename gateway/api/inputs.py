"""Turn an HTTP request (multipart, JSON or a raw image body) into a RemovalInput."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from gateway.api.options import OPTION_KEYS, RequestOptions, parse_options
from gateway.errors import InvalidOption, MissingImage, PayloadTooLarge

IMAGE_FIELDS = ("image_file", "file", "image")
BASE64_FIELDS = ("image_base64", "image_file_b64")
_DATA_URL = re.compile(r"^data:[^,]{0,100};base64,", re.IGNORECASE)
_WHITESPACE = re.compile(rb"\s+")


class RemovalInput(msgspec.Struct):
    """Image, optional trimap or URL, and options of one removal request."""

    image: bytes | None
    options: RequestOptions
    trimap: bytes | None = None
    image_url: str | None = None


def decode_base64(name: str, value: str, max_bytes: int) -> bytes:
    """Decode base64 (a `data:…;base64,` prefix is allowed); malformed is a 400 naming `name`."""
    text = _DATA_URL.sub("", value.strip(), count=1)
    if len(text) * 3 // 4 > max_bytes + 3:
        raise PayloadTooLarge(f"`{name}` decodes to more than {max_bytes} bytes")
    raw = _WHITESPACE.sub(b"", text.encode("ascii", errors="replace"))
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidOption(f"`{name}` is not valid base64") from None


def _split(
    fields: Iterable[tuple[str, object]], max_bytes: int, option_keys: frozenset[str]
) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """Separate image/trimap/url fields (lower-cased keys) from option fields."""
    inputs: dict[str, object] = {}
    options: list[tuple[str, str]] = []
    for key, value in fields:
        lowered = key.strip().lower()
        if lowered in (*IMAGE_FIELDS, *BASE64_FIELDS, "image_url", "trimap_file", "trimap_base64"):
            inputs.setdefault(lowered, value)
        elif isinstance(value, bool):
            options.append((key, "true" if value else "false"))
        elif isinstance(value, str | int | float):
            options.append((key, str(value)))
        elif lowered in option_keys:
            raise InvalidOption(f"option `{key:.40}` must be a plain value, not a file or object")
        elif value is not None:
            options.append((key, "<file or object>"))
    return inputs, options


async def _read(name: str, value: object, max_bytes: int) -> bytes | None:
    if isinstance(value, UploadFile):
        data = await value.read()
        await value.close()
    elif isinstance(value, str) and name.endswith(("base64", "b64")):
        data = decode_base64(name, value, max_bytes)
    elif isinstance(value, str):
        # A plain text form field named like an image field is a client mistake, not an image.
        raise InvalidOption(f"field `{name}` must be a file upload (or use image_base64)")
    else:
        return None
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"`{name}` is {len(data)} bytes; the limit is {max_bytes}")
    return data


async def read_removal_input(
    request: Request, max_bytes: int, option_keys: frozenset[str] = OPTION_KEYS,
    strict: bool = True, routing_key_field: str | None = None,
) -> RemovalInput:
    """Parse multipart, JSON or raw-image bodies; query parameters count as options too."""
    content_type = request.headers.get("content-type", "").lower()
    fields: list[tuple[str, object]] = list(request.query_params.items())
    if content_type.startswith("multipart/form-data") or content_type.startswith(
        "application/x-www-form-urlencoded"
    ):
        form = await request.form()
        fields.extend(form.multi_items())
    elif content_type.startswith("application/json") or content_type.endswith("+json"):
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            raise InvalidOption("the JSON body is malformed") from None
        if not isinstance(body, dict):
            raise InvalidOption("the JSON body must be an object")
        fields.extend(body.items())
    else:
        raw = await request.body()
        if raw:
            if len(raw) > max_bytes:
                raise PayloadTooLarge(f"the image is {len(raw)} bytes; the limit is {max_bytes}")
            inputs, options = _split(fields, max_bytes, option_keys)
            return RemovalInput(raw, parse_options(options, option_keys, strict, routing_key_field))
    inputs, options = _split(fields, max_bytes, option_keys)
    url = inputs.get("image_url")
    if not any(name in inputs for name in (*IMAGE_FIELDS, *BASE64_FIELDS)) and not (
        isinstance(url, str) and url.strip()
    ):
        raise MissingImage(
            "send the image as multipart `image_file` (or `file`/`image`), JSON `image_base64` "
            "or `image_url`"
        )
    parsed = parse_options(options, option_keys, strict, routing_key_field)
    image = None
    for name in (*IMAGE_FIELDS, *BASE64_FIELDS):
        if name in inputs:
            image = await _read(name, inputs[name], max_bytes)
            break
    trimap = None
    for name in ("trimap_file", "trimap_base64"):
        if name in inputs:
            trimap = await _read(name, inputs[name], max_bytes)
            break
    return RemovalInput(image, parsed, trimap, url.strip() if isinstance(url, str) else None)
