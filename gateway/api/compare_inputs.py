"""Parse `POST /v1/compare`: the removal input plus `sheet`, `tile`, `images` and a ground truth."""

from __future__ import annotations

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from gateway.api.inputs import (
    INPUT_FIELDS,
    RemovalInput,
    decode_base64,
    read_body,
    read_removal_input,
)
from gateway.api.options import OPTION_KEYS, parse_bool
from gateway.errors import InvalidOption, PayloadTooLarge

GROUND_TRUTH_FILES = ("ground_truth", "ground_truth_file")
GROUND_TRUTH_BASE64 = "ground_truth_base64"
COMPARE_KEYS = frozenset({"sheet", "tile", "images"})
#: Routing options that make no sense when every provider is pinned in turn.
_REFUSED = frozenset({"provider", "policy", "fallback", "experiment"})
_INPUT_KEYS = frozenset({*INPUT_FIELDS, *GROUND_TRUTH_FILES, GROUND_TRUTH_BASE64})
MAX_TILE = 512


class CompareInput(msgspec.Struct):
    """Everything `POST /v1/compare` was sent."""

    removal: RemovalInput
    ground_truth: bytes | None
    sheet: bool
    tile: int
    images: bool
    """Put each cut-out in the report (`image_base64`), so nobody pays a second call for it."""


async def _ground_truth(fields: dict[str, object], max_bytes: int) -> bytes | None:
    for name in GROUND_TRUTH_FILES:
        value = fields.get(name)
        if isinstance(value, UploadFile):
            data = await value.read()
            await value.close()
            if len(data) > max_bytes:
                raise PayloadTooLarge(f"`{name}` is {len(data)} bytes; the limit is {max_bytes}")
            return data
        if value is not None:
            raise InvalidOption(
                f"field `{name}` must be a file upload (or use {GROUND_TRUTH_BASE64})"
            )
    value = fields.get(GROUND_TRUTH_BASE64)
    if isinstance(value, str):
        return decode_base64(GROUND_TRUTH_BASE64, value, max_bytes)
    return None


def _tile(value: object) -> int:
    try:
        tile = int(value) if isinstance(value, float) and value.is_integer() else int(str(value))
    except ValueError:
        raise InvalidOption(f"option `tile` must be an integer from 32 to {MAX_TILE}") from None
    if not 32 <= tile <= MAX_TILE:
        raise InvalidOption(f"option `tile` must be an integer from 32 to {MAX_TILE}")
    return tile


async def read_compare_input(
    request: Request, max_bytes: int, routing_key_field: str | None = None
) -> CompareInput:
    """Removal input, ground truth and sheet options; unknown or routing-only keys are a 400."""
    body = await read_body(request)
    fields = {str(key).strip().lower(): value for key, value in body.fields}
    known = OPTION_KEYS | COMPARE_KEYS | _INPUT_KEYS
    if routing_key_field:
        known = known | {routing_key_field.lower()}
    for key in fields:
        if key in _REFUSED:
            raise InvalidOption(f"option `{key}` does not apply to /v1/compare; use `providers`")
        if key not in known:
            raise InvalidOption(f"unknown option `{key:.40}`")
    removal = await read_removal_input(
        body, max_bytes, strict=False, routing_key_field=routing_key_field
    )
    if removal.options.output.format == "zip":
        # The comparison decodes every answer; a ZIP (colour + alpha files) is not an image.
        raise InvalidOption("option `format=zip` does not apply to /v1/compare")
    sheet, images = fields.get("sheet"), fields.get("images")
    return CompareInput(
        removal=removal,
        ground_truth=await _ground_truth(fields, max_bytes),
        sheet=parse_bool("sheet", str(sheet)) if sheet is not None else False,
        tile=_tile(fields["tile"]) if "tile" in fields else 256,
        images=parse_bool("images", str(images)) if images is not None else False,
    )
