"""The one request-body reader of every removal route (unified, drop-ins, compare).

`read_body` turns multipart, urlencoded, JSON or a raw image body into a `Body`: the fields in
the order sent (query parameters first when asked for) and, for a raw body, its bytes. Each
route then picks its own field names out of it; `field_bytes` reads an upload or a base64 text
field within the upload limit. `read_removal_input` is the unified API's reading of a Body.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from gateway.api.body_limits import decode_json_object, read_form
from gateway.api.options import OPTION_KEYS, RequestOptions, parse_options
from gateway.errors import InvalidOption, MissingImage, PayloadTooLarge

IMAGE_FIELDS = ("image_file", "file", "image")
BASE64_FIELDS = ("image_base64", "image_file_b64")
BG_IMAGE_FIELDS = ("bg_image_file", "bg_image_base64")
INPUT_FIELDS = frozenset({*IMAGE_FIELDS, *BASE64_FIELDS, "image_url", "trimap_file",
                          "trimap_base64", *BG_IMAGE_FIELDS})
_DATA_URL = re.compile(r"^data:[^,]{0,100};base64,", re.IGNORECASE)
_WHITESPACE = re.compile(rb"\s+")
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class Body(msgspec.Struct):
    """A request's fields in the order sent (keys as sent) and, for a raw image body, its bytes."""

    fields: list[tuple[str, object]]
    is_json: bool = False
    raw: bytes | None = None

    def first(self) -> dict[str, object]:
        """{lower-cased key: first value}."""
        found: dict[str, object] = {}
        for key, value in self.fields:
            found.setdefault(str(key).strip().lower(), value)
        return found


async def read_body(
    request: Request, *, query: bool = True, malformed: type[InvalidOption] = InvalidOption
) -> Body:
    """Read the body once: a form's items, a JSON object's items, or raw bytes.

    `query`: the query parameters come first among the fields. A JSON body that does not parse
    or is not an object raises `malformed`.
    """
    content_type = request.headers.get("content-type", "").lower()
    fields: list[tuple[str, object]] = list(request.query_params.items()) if query else []
    if content_type.startswith(_FORM_TYPES):
        fields.extend(await read_form(request, malformed))
        return Body(fields)
    if content_type.startswith("application/json") or "+json" in content_type:
        body = decode_json_object(await request.body(), malformed)
        fields.extend(body.items())
        return Body(fields, is_json=True)
    return Body(fields, raw=await request.body() or None)


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


async def field_bytes(
    name: str, value: object, max_bytes: int, *, uploads_only: bool = False,
    bad_base64: type[InvalidOption] = InvalidOption, hint: str = "",
) -> bytes:
    """An uploaded file, or base64 text (unless `uploads_only`), within `max_bytes`."""
    if isinstance(value, UploadFile):
        data = await value.read()
        await value.close()
    elif isinstance(value, str) and not uploads_only:
        try:
            data = decode_base64(name, value, max_bytes)
        except InvalidOption:
            raise bad_base64(f"`{name}` is not valid base64") from None
    else:
        # A plain text form field named like an image field is a client mistake, not an image.
        raise InvalidOption(f"field `{name}` must be a file upload{hint}")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"`{name}` is {len(data)} bytes; the limit is {max_bytes}")
    return data


def present(fields: Mapping[str, object], name: str) -> bool:
    """True when `name` carries something (an upload or a non-blank string)."""
    value = fields.get(name)
    return isinstance(value, UploadFile) or (isinstance(value, str) and bool(value.strip()))


class RemovalInput(msgspec.Struct):
    """Image, optional trimap or URL, and options of one removal request."""

    image: bytes | None
    options: RequestOptions
    trimap: bytes | None = None
    image_url: str | None = None


def _split(
    fields: list[tuple[str, object]], option_keys: frozenset[str]
) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """Separate image/trimap/url fields (lower-cased keys) from option fields."""
    inputs: dict[str, object] = {}
    options: list[tuple[str, str]] = []
    for key, value in fields:
        lowered = key.strip().lower()
        if lowered in INPUT_FIELDS:
            inputs.setdefault(lowered, value)
        elif isinstance(value, bool):
            options.append((key, "true" if value else "false"))
        elif isinstance(value, str | int):
            options.append((key, str(value)))
        elif isinstance(value, float) and value.is_integer():  # JSON `50.0` is the integer 50
            options.append((key, str(int(value))))
        elif lowered in option_keys:
            raise InvalidOption(f"option `{key:.40}` must be a string, boolean or integer")
        else:
            options.append((key, "<file or object>"))
    return inputs, options


async def _input(name: str, inputs: dict[str, object], max_bytes: int) -> bytes | None:
    value = inputs[name]
    if not isinstance(value, UploadFile | str):
        return None
    return await field_bytes(name, value, max_bytes,
                             uploads_only=not name.endswith(("base64", "b64")),
                             hint=" (or use image_base64)")


async def read_removal_input(
    body: Body, max_bytes: int, option_keys: frozenset[str] = OPTION_KEYS,
    strict: bool = True, routing_key_field: str | None = None,
) -> RemovalInput:
    """The unified API's reading of `body`: image (upload, base64 or URL), trimap, options."""
    if body.raw is not None and len(body.raw) > max_bytes:
        raise PayloadTooLarge(f"the image is {len(body.raw)} bytes; the limit is {max_bytes}")
    inputs, options = _split(body.fields, option_keys)
    if body.raw is not None:
        return RemovalInput(body.raw, parse_options(options, option_keys, strict,
                                                    routing_key_field))
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
            image = await _input(name, inputs, max_bytes)
            break
    trimap = None
    for name in ("trimap_file", "trimap_base64"):
        if name in inputs:
            trimap = await _input(name, inputs, max_bytes)
            break
    parsed = await _with_background(parsed, inputs, max_bytes)
    return RemovalInput(image, parsed, trimap, url.strip() if isinstance(url, str) else None)


async def _with_background(
    parsed: RequestOptions, inputs: dict[str, object], max_bytes: int
) -> RequestOptions:
    """Attach an uploaded or base64 background image; at most one background source."""
    given = [name for name in BG_IMAGE_FIELDS if present(inputs, name)]
    sources = len(given) + (parsed.bg_image_url is not None) + (parsed.output.bg_color is not None)
    if sources > 1:
        raise InvalidOption("options `bg_color`, `bg_image_url`, `bg_image_file` and "
                            "`bg_image_base64` exclude each other; send one")
    if not given:
        return parsed
    data = await _input(given[0], inputs, max_bytes)
    output = msgspec.structs.replace(parsed.output, bg_image=data)
    return msgspec.structs.replace(parsed, output=output)
