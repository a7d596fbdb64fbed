"""Contact sheet: each provider's cutout on a checkerboard, a dark and a light colour, labelled."""

from __future__ import annotations

import io
from collections.abc import Sequence

import msgspec
from PIL import Image, ImageDraw

from gateway.compare.runner import Comparison
from providers.images import open_rgb

PAD = 8
LABEL_HEIGHT = 18
COLUMNS = 3
DARK = (32, 36, 40)
LIGHT = (244, 244, 238)
_CHECK = ((204, 204, 204), (255, 255, 255))
_CHECK_SIZE = 8
_SHEET_BG = (255, 255, 255)
_TEXT = (20, 20, 20)
_ERROR_FILL = (225, 225, 225)


class SheetRow(msgspec.Struct, frozen=True):
    """One provider's row: its label and served image, or the error in place of the tiles."""

    label: str
    image: bytes | None = None
    error: str | None = None


def thumb_size(width: int, height: int, tile: int) -> tuple[int, int]:
    """Size of one tile: the input's aspect with its long side at most `tile` px."""
    scale = min(1.0, tile / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def sheet_size(width: int, height: int, rows: int, tile: int) -> tuple[int, int]:
    """Pixel size of a sheet with `rows` providers for a `width` x `height` input."""
    tw, th = thumb_size(width, height, tile)
    return PAD + COLUMNS * (tw + PAD), PAD + rows * (LABEL_HEIGHT + th + PAD)


def _checkerboard(size: tuple[int, int]) -> Image.Image:
    board = Image.new("RGB", size, _CHECK[0])
    draw = ImageDraw.Draw(board)
    for y in range(0, size[1], _CHECK_SIZE):
        for x in range((y // _CHECK_SIZE % 2) * _CHECK_SIZE, size[0], 2 * _CHECK_SIZE):
            draw.rectangle((x, y, x + _CHECK_SIZE - 1, y + _CHECK_SIZE - 1), fill=_CHECK[1])
    return board


def _cutout(data: bytes, source: Image.Image) -> Image.Image:
    """The served image as RGBA: a bare matte is applied to the source, opaque images stay so."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        if opened.mode == "L":
            matte = opened.resize(source.size, Image.Resampling.BILINEAR)
            cutout = source.convert("RGBA")
            cutout.putalpha(matte)
            return cutout
        return opened.convert("RGBA")


def _fit(image: Image.Image, size: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    """`image` scaled into `size` (aspect kept) and its offset to centre it there."""
    fitted = image.copy()
    fitted.thumbnail(size, Image.Resampling.LANCZOS)
    if fitted.width < size[0] and fitted.height < size[1]:
        scale = min(size[0] / fitted.width, size[1] / fitted.height)
        fitted = image.resize((max(1, round(image.width * scale)),
                               max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
    return fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2)


def render_sheet(source: bytes, rows: Sequence[SheetRow], tile: int = 256) -> bytes:
    """A PNG with one labelled row per provider (CPU-bound: call it in a worker thread)."""
    original = open_rgb(source)  # validated by the service before any provider was called
    tw, th = thumb_size(original.width, original.height, tile)
    sheet = Image.new("RGB", sheet_size(original.width, original.height, len(rows), tile),
                      _SHEET_BG)
    draw = ImageDraw.Draw(sheet)
    backgrounds = (_checkerboard((tw, th)), Image.new("RGB", (tw, th), DARK),
                   Image.new("RGB", (tw, th), LIGHT))
    for index, row in enumerate(rows):
        top = PAD + index * (LABEL_HEIGHT + th + PAD)
        draw.text((PAD, top + 3), row.label, fill=_TEXT)
        tile_top = top + LABEL_HEIGHT
        fitted = None
        if row.image is not None:
            fitted, offset = _fit(_cutout(row.image, original), (tw, th))
        for column, background in enumerate(backgrounds):
            left = PAD + column * (tw + PAD)
            if fitted is None:
                draw.rectangle((left, tile_top, left + tw - 1, tile_top + th - 1),
                               fill=_ERROR_FILL)
                draw.text((left + 4, tile_top + 4), row.error or "no image", fill=_TEXT)
                continue
            cell = background.convert("RGBA")
            cell.alpha_composite(fitted, offset)
            sheet.paste(cell.convert("RGB"), (left, tile_top))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def comparison_rows(comparison: Comparison) -> list[SheetRow]:
    """One row per provider: `name | latency | cost`, or the error code."""
    rows = []
    for outcome in comparison.report.providers:
        if outcome.status == "ok":
            label = f"{outcome.provider} | {outcome.latency_ms:.0f} ms | cost {outcome.cost:g}"
            rows.append(SheetRow(label, image=comparison.images[outcome.provider]))
        else:
            rows.append(SheetRow(f"{outcome.provider} | {outcome.error}", error=outcome.error))
    return rows


def comparison_sheet(comparison: Comparison, tile: int = 256) -> bytes:
    """The contact sheet of a comparison (CPU-bound: call it in a worker thread)."""
    return render_sheet(comparison.source, comparison_rows(comparison), tile)
