"""The contact sheet: a PNG of the documented size, one labelled row per provider."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from litestar.testing import AsyncTestClient

from gateway.compare import sheet as layout
from gateway.compare.sheet import SheetRow, render_sheet, sheet_size, thumb_size
from providers.errors import ProviderAuthError
from tests.compare.conftest import (
    centre_box,
    compare_app,
    compare_settings,
    fake_configs,
    photo,
    png,
)
from tests.fakes import FakeProvider
from tests.imaging import decode

RED = (200, 40, 40)


def tile_origin(row: int, column: int, thumb: tuple[int, int]) -> tuple[int, int]:
    """Top-left pixel (x, y) of one tile, from the documented layout constants."""
    tw, th = thumb
    x = layout.PAD + column * (tw + layout.PAD)
    y = layout.PAD + row * (layout.LABEL_HEIGHT + th + layout.PAD) + layout.LABEL_HEIGHT
    return x, y


def close(pixel: np.ndarray, colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(colour)) <= tolerance))


async def test_sheet_has_one_row_per_provider_on_three_backgrounds(tmp_path: Path) -> None:
    providers = {"a": FakeProvider("a", cost=1.0), "b": FakeProvider("b", cost=0.25),
                 "down": FakeProvider("down", script=[ProviderAuthError])}
    settings = compare_settings(tmp_path, fake_configs(*providers))
    async with AsyncTestClient(app=compare_app(settings, providers)) as client:
        response = await client.post("/v1/compare?sheet=true&tile=64",
                                     files={"image_file": ("p.png", photo(96, 64))})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = decode(response.content)
    assert image.format == "PNG"
    assert image.size == sheet_size(96, 64, rows=3, tile=64)
    pixels = np.asarray(image.convert("RGB"))
    thumb = thumb_size(96, 64, 64)
    assert thumb == (64, 43)
    for row in (0, 1):  # the two cutouts: clear corners show the background, centre the subject
        checker, dark, light = (tile_origin(row, c, thumb) for c in range(3))
        assert close(pixels[checker[1], checker[0]], (204, 204, 204)) or close(
            pixels[checker[1], checker[0]], (255, 255, 255))
        assert close(pixels[dark[1] + 1, dark[0] + 1], layout.DARK)
        assert close(pixels[light[1] + 1, light[0] + 1], layout.LIGHT)
        for x, y in (checker, dark, light):
            assert close(pixels[y + thumb[1] // 2, x + thumb[0] // 2], RED, tolerance=30)
    for column in range(3):  # the failed provider: a grey placeholder in every tile
        x, y = tile_origin(2, column, thumb)
        assert close(pixels[y + thumb[1] - 2, x + thumb[0] - 2], (225, 225, 225), tolerance=2)
    label_band = pixels[layout.PAD: layout.PAD + layout.LABEL_HEIGHT, layout.PAD: 200]
    assert (label_band.min(axis=2) < 100).any()  # some dark text was drawn in the label


def test_alpha_only_answers_are_applied_to_the_source() -> None:
    rows = [SheetRow("matte", image=png(centre_box(48, 48)))]
    image = decode(render_sheet(photo(48, 48), rows, tile=48))
    assert image.size == sheet_size(48, 48, rows=1, tile=48)
    pixels = np.asarray(image.convert("RGB"))
    x, y = tile_origin(0, 1, (48, 48))
    assert close(pixels[y + 24, x + 24], RED)  # subject colour, not the grey of the matte
    assert close(pixels[y + 1, x + 1], layout.DARK)


def test_small_tiles_never_exceed_the_tile_and_never_upscale() -> None:
    assert thumb_size(1000, 500, 256) == (256, 128)
    assert thumb_size(40, 30, 256) == (40, 30)
