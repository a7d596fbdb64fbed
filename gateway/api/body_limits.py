"""Bounded body parsing: depth, field and part limits for JSON and form bodies.

Every place that decodes a request body calls this module (today only
`gateway.api.inputs.read_body`, the one reader of every route): `decode_json_object` for JSON,
`read_form` for multipart and urlencoded forms. A new body reader must call them too, never
`msgspec.json.decode` or `request.form()` directly: a 2 KB JSON body nested 1,000 deep otherwise
ends in a RecursionError, and a form of thousands of parts in thousands of allocations.

A JSON body is decoded in one msgspec call (its own recursion guard catches bodies nested about
a thousand deep), then its shape is checked: at most MAX_FIELDS keys, containers at most
MAX_JSON_DEPTH deep and MAX_NESTED_VALUES values inside containers in all (the walk stops there,
so its cost is bounded whatever the body holds). Answers use the documented codes only:
400 `invalid_option` (or the route's own malformed-body error) for depth, field counts and
malformed bodies, 413 `payload_too_large` for too many multipart parts.
"""

from __future__ import annotations

import msgspec
from litestar import Request
from litestar.exceptions import ClientException

from gateway.errors import InvalidOption, PayloadTooLarge

#: Containers inside containers a JSON body may hold (the body object is level 1).
MAX_JSON_DEPTH = 16
#: Top-level JSON keys, form fields or multipart parts: options, image, trimap and some slack.
MAX_FIELDS = 100
#: Values inside arrays and objects a JSON body may hold (images travel as strings, not containers).
MAX_NESTED_VALUES = 10_000

_DECODER = msgspec.json.Decoder()


def check_depth(
    value: object, malformed: type[InvalidOption] = InvalidOption, start: int = 1
) -> None:
    """Raise `malformed` past MAX_JSON_DEPTH levels or MAX_NESTED_VALUES nested values."""
    stack: list[tuple[object, int]] = [(value, start)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise malformed(f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep")
        if depth > 1:  # the body object itself is bounded by MAX_FIELDS
            seen += len(item)
            if seen > MAX_NESTED_VALUES:
                raise malformed(
                    f"the JSON body holds more than {MAX_NESTED_VALUES} nested values"
                )
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)


def decode_json_object(
    raw: bytes, malformed: type[InvalidOption] = InvalidOption
) -> dict[str, object]:
    """A JSON body's object within the limits; anything else raises `malformed` (a 400)."""
    try:
        body = _DECODER.decode(raw)
    except msgspec.DecodeError:
        raise malformed("the JSON body is malformed") from None
    except RecursionError:  # msgspec's own guard, far deeper than MAX_JSON_DEPTH
        raise malformed(
            f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep"
        ) from None
    if not isinstance(body, dict):
        raise malformed("the JSON body must be an object")
    if len(body) > MAX_FIELDS:
        raise malformed(f"the JSON body has more than {MAX_FIELDS} fields")
    check_depth(body, malformed)
    return body


async def read_form(
    request: Request, malformed: type[InvalidOption] = InvalidOption
) -> list[tuple[str, object]]:
    """A multipart or urlencoded form's items, in order, within MAX_FIELDS."""
    if request.headers.get("content-type", "").lower().startswith(
        "application/x-www-form-urlencoded"
    ) and (await request.body()).count(b"&") >= MAX_FIELDS:
        # Counted before parsing: the stdlib parser would build every field first.
        raise malformed(f"the form has more than {MAX_FIELDS} fields")
    try:
        form = await request.form()
    except ClientException as exc:
        # Litestar raises one exception class for both; only the part limit says "Too Large".
        if "too large" in str(exc.detail).lower():
            raise PayloadTooLarge(
                f"the multipart body has more than {MAX_FIELDS} parts"
            ) from None
        raise malformed("the multipart body is malformed") from None
    except UnicodeDecodeError:
        # Litestar reads a part without a filename as text: an image sent that way is not one.
        raise malformed("a form field is not UTF-8 text; send files with a filename") from None
    items: list[tuple[str, object]] = list(form.multi_items())
    if len(items) > MAX_FIELDS:
        raise malformed(f"the form has more than {MAX_FIELDS} fields")
    return items
