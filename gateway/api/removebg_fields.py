"""remove.bg's request fields -> the gateway's OutputOptions, with remove.bg's error codes.

Every documented field of `POST /v1.0/removebg` is read here (vendor-docs/removebg-v1.md):
size (and its legacy aliases), type, type_level, format (auto|png|jpg|webp|zip), roi, crop,
crop_margin, scale, position, channels, add_shadow, shadow_type, shadow_opacity (also per type:
`shadow_type[car]=…`), semitransparency (accepted; nothing to do), bg_color, bg_image_url,
bg_image_file. A bad value is a 400 whose `code` is remove.bg's (`invalid_size`, `invalid_roi`…).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import msgspec

from gateway.api.options import parse_bool, parse_color, parse_margin
from gateway.errors import InvalidOption
from gateway.postprocess.placement import CENTER, parse_position, parse_scale
from gateway.postprocess.roi import RoiEmpty, RoiOutOfBounds, parse_roi
from gateway.postprocess.shadow import ShadowKind, parse_opacity
from providers.base import Margin, OutputOptions

T = TypeVar("T")
SIZES: dict[str, str] = {
    "preview": "preview", "small": "preview", "regular": "preview", "medium": "medium",
    "hd": "hd", "full": "full", "4k": "full", "50mp": "full", "auto": "full",
}
FORMATS = {"auto": "auto", "png": "png", "jpg": "jpg", "jpeg": "jpg", "webp": "webp", "zip": "zip"}
TYPES = frozenset({"auto", "person", "product", "car", "animal", "graphic", "transportation"})
TYPE_LEVELS = frozenset({"none", "1", "2", "latest"})
#: The class `X-Type` reports for a requested `type`, per `type_level` (input `graphic`, class
#: `graphics`; level 1 folds graphics and transportation into `other`).
CLASSES: dict[str, dict[str, str]] = {
    "1": {"person": "person", "product": "product", "car": "car", "animal": "animal",
          "graphic": "other", "transportation": "other"},
    "2": {"person": "person", "product": "product", "car": "car", "animal": "animal",
          "graphic": "graphics", "transportation": "transportation"},
}
SHADOW_TYPES = frozenset({"auto", "car", "3d", "drop", "none"})
SHADOW_KINDS: dict[str, ShadowKind] = {"drop": "drop", "3d": "3d", "car": "car"}
#: `shadow_type=auto`: remove.bg's shadow per `type` (any other type: drop).
AUTO_SHADOWS: dict[str, ShadowKind] = {"car": "car", "person": "3d", "transportation": "3d"}
MAX_MARGIN_PX = 500
MAX_MARGIN_PERCENT = 50


class RemoveBgInvalid(InvalidOption):
    """A bad remove.bg field: a 400 with remove.bg's own error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class RemoveBgRequest(msgspec.Struct, frozen=True):
    """The options of one remove.bg request and what the answer reports."""

    options: OutputOptions
    x_type: str | None
    """The class for `X-Type`, when the gateway can say (the client named a type)."""
    format_auto: bool
    """`format=auto`: the answer's format is chosen from whether it can be transparent."""


def text(fields: Mapping[str, object], key: str) -> str | None:
    """A field as text (JSON booleans and numbers allowed); None when absent or blank."""
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, str):
        return value.strip() or None
    raise RemoveBgInvalid(f"invalid_{key}", f"option `{key}` must be a string")


def _parsed(code: str, parse: Callable[[str, str], T], key: str, value: str) -> T:
    try:
        return parse(key, value)
    except (RoiEmpty, RoiOutOfBounds):
        raise  # remove.bg has codes of their own for these (the route maps them)
    except InvalidOption as exc:
        raise RemoveBgInvalid(code, exc.detail) from None


def crop_margin(value: str) -> Margin:
    """`30px` / `10%`, or 2 or 4 values that are all equal (the gateway has one margin)."""
    parts = value.replace(",", " ").split()
    if len(parts) not in (1, 2, 4):
        raise RemoveBgInvalid("invalid_crop_margin", "option `crop_margin` takes 1, 2 or 4 values")
    margins = {_parsed("invalid_crop_margin", parse_margin, "crop_margin", p) for p in parts}
    if len(margins) > 1:
        raise RemoveBgInvalid("invalid_crop_margin",
                              "option `crop_margin`: the gateway keeps one margin on every side; "
                              "send one value")
    margin = margins.pop()
    if margin.value > (MAX_MARGIN_PX if margin.unit == "px" else MAX_MARGIN_PERCENT):
        raise RemoveBgInvalid("invalid_crop_margin",
                              "option `crop_margin`: at most 500px or 50% per side")
    return margin


def shadow_choice(fields: Mapping[str, object], kind: str) -> tuple[ShadowKind | None, int]:
    """(shadow look or None, opacity) from add_shadow, shadow_type, shadow_opacity (maybe per type).

    `auto` picks remove.bg's default for the request's `type` (car: car; person, transportation:
    3D; everything else, `auto` included since the gateway detects no class: drop).
    """
    chosen = (text(fields, f"shadow_type[{kind}]") or text(fields, "shadow_type") or "none").lower()
    for key in fields:
        if key == "shadow_type" or key.startswith("shadow_type["):
            value = (text(fields, key) or "").lower()
            if value not in SHADOW_TYPES:
                raise RemoveBgInvalid("invalid_shadow_type",
                                      f"option `{key}` must be auto, car, 3D, drop or none")
    shadow: ShadowKind | None = None
    if chosen != "none":
        shadow = AUTO_SHADOWS.get(kind, "drop") if chosen == "auto" else SHADOW_KINDS[chosen]
    added = text(fields, "add_shadow")
    if added is not None and _parsed("invalid_add_shadow", parse_bool, "add_shadow", added):
        shadow = shadow or "car"  # deprecated alias of shadow_type[car]=car
    opacity_text = text(fields, f"shadow_opacity[{kind}]") or text(fields, "shadow_opacity")
    default = 90 if kind == "car" else 50
    opacity = default
    if opacity_text is not None and opacity_text.lower() != "auto":
        opacity = _parsed("invalid_shadow_opacity", parse_opacity, "shadow_opacity", opacity_text)
    return shadow, opacity


def _kind(fields: Mapping[str, object]) -> tuple[str, str | None]:
    """(type, X-Type class or None): unknown types fall back to `auto`, as remove.bg did."""
    kind = (text(fields, "type") or "auto").lower()
    kind = kind if kind in TYPES else "auto"
    level = (text(fields, "type_level") or "1").lower()
    if level not in TYPE_LEVELS:
        raise RemoveBgInvalid("invalid_type_level",
                              "option `type_level` must be none, 1, 2 or latest")
    if kind == "auto" or level == "none":
        return kind, None  # the gateway detects no class itself
    return kind, CLASSES["1" if level == "1" else "2"][kind]


def removebg_request(fields: Mapping[str, object], bg_image: bytes | None) -> RemoveBgRequest:
    """Every documented option of `fields` (lower-cased keys) -> a RemoveBgRequest."""
    size = (text(fields, "size") or "preview").lower()
    if size not in SIZES:
        raise RemoveBgInvalid("invalid_size", f"option `size` must be one of {', '.join(SIZES)}")
    chosen = (text(fields, "format") or "auto").lower()
    if chosen not in FORMATS:
        raise RemoveBgInvalid("invalid_format",
                              "option `format` must be auto, png, jpg, webp or zip")
    channels = (text(fields, "channels") or "rgba").lower()
    if channels not in ("rgba", "alpha"):
        raise RemoveBgInvalid("invalid_channels", "option `channels` must be rgba or alpha")
    semitransparency = text(fields, "semitransparency")
    if semitransparency is not None:
        _parsed("invalid_semitransparency", parse_bool, "semitransparency", semitransparency)
    kind, x_type = _kind(fields)
    crop_text = text(fields, "crop")
    crop = crop_text is not None and _parsed("invalid_crop", parse_bool, "crop", crop_text)
    margin_text = text(fields, "crop_margin")
    roi_text, scale_text = text(fields, "roi"), text(fields, "scale")
    position_text, color_text = text(fields, "position"), text(fields, "bg_color")
    color = None if color_text is None else _parsed(
        "invalid_bg_color", parse_color, "bg_color", color_text)
    scale = None if scale_text is None else _parsed(
        "invalid_scale", parse_scale, "scale", scale_text)
    position = CENTER if scale is not None else None
    if position_text is not None:
        position = _parsed("invalid_position", parse_position, "position", position_text)
    shadow, opacity = shadow_choice(fields, kind)
    options = OutputOptions(
        format=FORMATS[chosen] if chosen != "auto" else "png",  # type: ignore[arg-type]
        channels=channels,  # type: ignore[arg-type]
        size=SIZES[size],  # type: ignore[arg-type]
        crop=crop,
        crop_margin=crop_margin(margin_text) if crop and margin_text else None,
        bg_color=color,
        roi=None if roi_text is None else _parsed("invalid_roi", parse_roi, "roi", roi_text),
        scale=scale, position=position, shadow=shadow is not None, shadow_opacity=opacity,
        shadow_type=shadow or "drop",
        bg_image=bg_image,
    )
    return RemoveBgRequest(options, x_type, chosen == "auto")


def auto_format(options: OutputOptions, opaque_background: bool) -> OutputOptions:
    """`format=auto`: JPG when nothing can be transparent (an opaque background), else PNG."""
    opaque = opaque_background or (options.bg_color is not None and options.bg_color[3] == 255)
    chosen = "jpg" if opaque and options.channels == "rgba" else "png"
    return msgspec.structs.replace(options, format=chosen)
