"""Parsing the fake remove.bg's option fields into a render spec (400s with the notes' codes)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Response
from PIL import ImageColor

from sandbox.cutout import Spec

SIZES = {"preview": "preview", "small": "preview", "regular": "preview", "medium": "medium",
         "hd": "hd", "full": "full", "4k": "full", "50mp": "50MP", "auto": "auto"}
CAPS = {"preview": 0.25, "medium": 1.5, "hd": 4.0, "full": 25.0, "50MP": 50.0, "auto": 25.0}
PNG_CAP = 10.0
FORMATS = ("auto", "png", "jpg", "webp", "zip")
SHADOWS = ("auto", "car", "3D", "drop", "none")
_MARGIN = re.compile(r"(\d+(?:\.\d+)?)(px|%)?")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


class RemoveBgError(Exception):
    """A documented error answer."""

    def __init__(self, status: int, code: str, title: str, headers: dict[str, str] | None = None):
        super().__init__(title)
        self.status, self.code, self.title, self.headers = status, code, title, headers or {}

    def response(self) -> Response:
        """The `errors[]` envelope."""
        return Response({"errors": [{"title": self.title, "code": self.code}]},
                        status_code=self.status, headers=self.headers,
                        media_type="application/json; charset=utf-8")


def bad(code: str, title: str) -> RemoveBgError:
    """A 400 with `code`."""
    return RemoveBgError(400, code, title)


def _bool(value: object, name: str) -> bool:
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise bad(f"invalid_{name}", f"Invalid {name}")
    return text in ("true", "1")


def _margin(text: str) -> tuple[tuple[float, ...], tuple[bool, ...]]:
    """(top, right, bottom, left) values and whether each is a fraction of the subject."""
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    matches = [_MARGIN.fullmatch(p) for p in parts]
    if len(parts) not in (1, 2, 4) or not all(matches):
        raise bad("invalid_crop_margin", "Invalid crop_margin")
    values = [(float(m.group(1)), m.group(2) == "%") for m in matches if m]
    if any(v > 50 if pct else v > 500 for v, pct in values):
        raise bad("invalid_crop_margin", "crop_margin is at most 50% or 500px per side")
    values = (values * 4)[:4] if len(values) == 1 else (
        [values[0], values[1], values[0], values[1]] if len(values) == 2 else values)
    return (tuple(v / 100 if pct else v for v, pct in values), tuple(pct for _, pct in values))


def _color(text: str) -> tuple[int, int, int, int]:
    value = text.strip()
    if re.fullmatch(r"#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})", value):
        value = "#" + value.lstrip("#")
    try:
        rgb = ImageColor.getrgb(value)
    except ValueError:
        raise bad("invalid_bg_color", "Invalid bg_color") from None
    return (rgb[0], rgb[1], rgb[2], rgb[3] if len(rgb) == 4 else 255)


def parse_roi(text: str, width: int, height: int) -> tuple[tuple[float, bool], ...]:
    """`x1 y1 x2 y2`, each px (or unsuffixed) or %; checked against the image's size."""
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    matches = [_MARGIN.fullmatch(p) for p in parts]
    if len(parts) != 4 or not all(matches):
        raise bad("invalid_roi", "Invalid roi")
    roi = tuple((float(m.group(1)), m.group(2) == "%") for m in matches if m)
    if any(pct and value > 100 for value, pct in roi):
        raise bad("invalid_roi", "Invalid roi")
    sides = (width, height, width, height)
    pixels = [v / 100 * side if pct else v for (v, pct), side in zip(roi, sides, strict=True)]
    if any(not pct and v > side for (v, pct), side in zip(roi, sides, strict=True)):
        raise bad("roi_exceeds_bounds", "roi exceeds the image")
    if pixels[2] <= pixels[0] or pixels[3] <= pixels[1]:
        raise bad("roi_region_empty", "roi is empty")
    return roi


def _placement(fields: dict[str, Any]) -> tuple[float | None, tuple[float, float] | None]:
    scale_text = str(fields.get("scale", "original")).strip().lower()
    scale = None
    if scale_text != "original":
        match = re.fullmatch(r"(\d+)%", scale_text)
        if not match or not 10 <= int(match.group(1)) <= 100:
            raise bad("invalid_scale", "Invalid scale")
        scale = float(match.group(1))
    text = str(fields.get("position", "center" if scale is not None else "original")).lower()
    if text == "original":
        return scale, None
    if text == "center":
        return scale, (50.0, 50.0)
    matches = [_PERCENT.fullmatch(p) for p in text.split()]
    if len(matches) not in (1, 2) or not all(matches):
        raise bad("invalid_position", "Invalid position")
    values = [float(m.group(1)) for m in matches if m]
    if any(v > 100 for v in values):
        raise bad("invalid_position", "Invalid position")
    return scale, (values[0], values[-1])


def _shadow(fields: dict[str, Any]) -> int | None:
    kind = str(fields.get("shadow_type", "none"))
    if kind not in SHADOWS:
        raise bad("invalid_shadow_type", "Invalid shadow_type")
    if kind == "none" and not _bool(fields.get("add_shadow", "false"), "add_shadow"):
        return None
    opacity = str(fields.get("shadow_opacity", "auto")).strip().lower()
    if opacity == "auto":
        return 90 if kind == "car" else 50
    if not opacity.isdigit() or int(opacity) > 100:
        raise bad("invalid_shadow_opacity", "Invalid shadow_opacity")
    return int(opacity)


def parse_spec(fields: dict[str, Any], background: bytes | None) -> tuple[Spec, str]:
    """The render spec and the size name of one call (raises RemoveBgError on bad values)."""
    size = SIZES.get(str(fields.get("size", "preview")).lower())
    if size is None:
        raise bad("invalid_size", "Invalid size")
    fmt = str(fields.get("format", "auto")).lower()
    channels = str(fields.get("channels", "rgba")).lower()
    if fmt not in FORMATS:
        raise bad("invalid_format", "Invalid format")
    if channels not in ("rgba", "alpha"):
        raise bad("invalid_channels", "Invalid channels")
    if sum(bool(fields.get(n)) for n in ("bg_color", "bg_image_url", "bg_image_file")) > 1:
        raise bad("multiple_bg_sources", "Only one background source is allowed")
    if fields.get("bg_image_url"):
        raise bad("failed_bg_download", "Failed to download the background: no internet here")
    crop = _bool(fields.get("crop", "false"), "crop")
    margin, relative = ((0.0,) * 4, (False,) * 4)
    if crop and fields.get("crop_margin"):
        margin, relative = _margin(str(fields["crop_margin"]))
    scale, position = _placement(fields)
    cap = CAPS[size] if fmt not in ("png", "auto") and channels == "rgba" else min(
        CAPS[size], PNG_CAP)
    spec = Spec(format=fmt, channels=channels, max_megapixels=cap, crop=crop,
                margin=margin, relative=relative,  # type: ignore[arg-type]
                bg_color=_color(str(fields["bg_color"])) if fields.get("bg_color") else None,
                scale=scale, position=position, shadow_opacity=_shadow(fields),
                background=background)
    return spec, size
