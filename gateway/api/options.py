"""Parse the public option fields (case-insensitive keys, lenient booleans) into typed options."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

import msgspec
from PIL import ImageColor

from gateway.errors import InvalidOption
from gateway.postprocess.placement import CENTER, parse_position, parse_scale
from gateway.postprocess.roi import parse_roi
from gateway.postprocess.shadow import parse_opacity
from providers.base import Margin, OutputOptions

T = TypeVar("T")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_FORMATS = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "webp": "webp", "zip": "zip"}
_CHANNELS = {"rgba": "rgba", "alpha": "alpha"}
_SIZES = {"preview": "preview", "medium": "medium", "hd": "hd", "full": "full", "auto": "full"}
_MARGIN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(px|%)?\s*$")
_HEX = re.compile(r"^[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?(?:[0-9a-fA-F]{2})?$")

#: Every option key the unified API understands (image fields are handled by the request parser).
OPTION_KEYS = frozenset({
    "format", "channels", "size", "crop", "crop_margin", "bg_color", "despill",
    "provider", "providers", "fallback", "policy", "routing_key", "experiment",
    "roi", "scale", "position", "shadow", "shadow_opacity", "bg_image_url",
})


class RequestOptions(msgspec.Struct, frozen=True):
    """Output options plus the routing fields of one request."""

    output: OutputOptions = OutputOptions()
    provider: str | None = None
    providers: tuple[str, ...] | None = None
    fallback: bool | None = None
    policy: str | None = None
    routing_key: str | None = None
    experiment: str | None = None
    bg_image_url: str | None = None
    """Fetched (SSRF-safe, like `image_url`) into `output.bg_image` before the removal."""


def parse_bool(name: str, value: str) -> bool:
    """`true/false/1/0/yes/no` (any case) -> bool, else an InvalidOption naming `name`."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidOption(
        f"option `{name}` must be a boolean (true/false/1/0/yes/no), got {value!r:.40}"
    )


def parse_color(name: str, value: str) -> tuple[int, int, int, int]:
    """CSS colour name, `#rgb`, `#rrggbb`, `#rrggbbaa` (the `#` may be omitted) -> RGBA."""
    text = value.strip()
    if _HEX.match(text):
        text = "#" + text
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        raise InvalidOption(
            f"option `{name}` must be a CSS colour name or #rgb/#rrggbb/#rrggbbaa, "
            f"got {value!r:.40}"
        ) from None
    return (*rgb, 255) if len(rgb) == 3 else rgb  # type: ignore[return-value]


def parse_margin(name: str, value: str) -> Margin:
    """`12px`, `12` (pixels) or `5%` -> Margin; negative or malformed is an InvalidOption."""
    match = _MARGIN.match(value)
    if not match:
        raise InvalidOption(
            f"option `{name}` must be a non-negative size like '12px' or '5%', got {value!r:.40}"
        )
    amount, unit = float(match.group(1)), match.group(2) or "px"
    if unit == "%" and amount > 100:
        raise InvalidOption(f"option `{name}` percentage must be at most 100%")
    return Margin(amount, "%" if unit == "%" else "px")


def _choice(name: str, value: str, table: dict[str, str]) -> str:
    try:
        return table[value.strip().lower()]
    except KeyError:
        allowed = ", ".join(sorted(set(table)))
        raise InvalidOption(
            f"option `{name}` must be one of {allowed}; got {value!r:.40}"
        ) from None


def _optional(values: dict[str, str], name: str, parse: Callable[[str, str], T]) -> T | None:
    value = values.get(name, "").strip()
    return parse(name, value) if value else None


def _names(name: str, value: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    if not names:
        raise InvalidOption(f"option `{name}` must name at least one provider")
    return names


def parse_options(
    fields: Iterable[tuple[str, str]], known: frozenset[str] = OPTION_KEYS, strict: bool = True,
    routing_key_field: str | None = None,
) -> RequestOptions:
    """Build RequestOptions from (key, value) pairs; unknown keys are a 400 when `strict`."""
    values: dict[str, str] = {}
    if routing_key_field:
        known = known | {routing_key_field.lower()}
    for raw_key, raw_value in fields:
        key = raw_key.strip().lower()
        if routing_key_field and key == routing_key_field.lower():
            key = "routing_key"
        if key not in known:
            if strict:
                raise InvalidOption(
                    f"unknown option `{raw_key:.40}`; known options: {', '.join(sorted(known))}"
                )
            continue
        values[key] = raw_value if isinstance(raw_value, str) else str(raw_value)
    output = OutputOptions(
        format=_choice("format", values.get("format", "png"), _FORMATS),  # type: ignore[arg-type]
        channels=_choice("channels", values.get("channels", "rgba"), _CHANNELS),  # type: ignore[arg-type]
        size=_choice("size", values.get("size", "full"), _SIZES),  # type: ignore[arg-type]
        crop=parse_bool("crop", values.get("crop", "false")),
        crop_margin=_optional(values, "crop_margin", parse_margin),
        bg_color=_optional(values, "bg_color", parse_color),
        despill=parse_bool("despill", values.get("despill", "false")),
        roi=_optional(values, "roi", parse_roi),
        scale=_optional(values, "scale", parse_scale),
        position=_optional(values, "position", parse_position),
        shadow=parse_bool("shadow", values.get("shadow", "false")),
        shadow_opacity=parse_opacity("shadow_opacity", values.get("shadow_opacity", "50")),
    )
    if output.scale is not None and not values.get("position", "").strip():
        # remove.bg: scaling the subject implies `position=center` unless one is given.
        output = msgspec.structs.replace(output, position=CENTER)
    bg_image_url = values.get("bg_image_url", "").strip() or None
    if bg_image_url is not None and output.bg_color is not None:
        raise InvalidOption("options `bg_color` and `bg_image_url` exclude each other; send one")
    policy = values.get("policy", "").strip().lower() or None
    if policy is not None and policy not in {"priority", "cheapest", "fastest", "weighted"}:
        raise InvalidOption("option `policy` must be one of cheapest, fastest, priority, weighted")
    return RequestOptions(
        output=output,
        provider=values.get("provider", "").strip().lower() or None,
        providers=_names("providers", values["providers"]) if "providers" in values else None,
        fallback=parse_bool("fallback", values["fallback"]) if "fallback" in values else None,
        policy=policy,
        routing_key=values.get("routing_key", "").strip() or None,
        experiment=values.get("experiment", "").strip() or None,
        bg_image_url=bg_image_url,
    )
