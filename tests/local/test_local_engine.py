"""The matte-engine seam: registry, protocol and the `compute_matte` helper."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from providers.local.classic import ClassicEngine
from providers.local.engine import ENGINES, MatteEngine, compute_matte, make_engine
from tests.synthetic import on_gradient, on_plain


def test_classic_is_registered_and_satisfies_the_protocol() -> None:
    engine = make_engine("classic", work_long_side=512)
    assert isinstance(engine, ClassicEngine)
    assert isinstance(engine, MatteEngine)
    assert engine.name == "classic"
    assert "classic" in ENGINES


def test_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="classic"):
        make_engine("u2netp")


def test_a_registered_engine_is_built_by_its_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    class Solid:
        name = "solid"

        def __init__(self, work_long_side: int) -> None:
            self.work_long_side = work_long_side

        def matte(self, rgb: np.ndarray) -> np.ndarray:
            return np.full(rgb.shape[:2], 255, np.uint8)

    monkeypatch.setitem(ENGINES, "solid", Solid)
    engine = make_engine("solid", work_long_side=64)
    assert isinstance(engine, MatteEngine)
    assert engine.matte(np.zeros((3, 4, 3), np.uint8)).shape == (3, 4)


def test_compute_matte_returns_an_l_matte_of_the_image_size() -> None:
    image, alpha = on_plain(2, 384)
    big = image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC)
    matte = compute_matte(big, long_side=256)
    assert matte.mode == "L"
    assert matte.size == big.size
    values = np.asarray(matte)
    assert values[0, 0] == 0 and values[-1, -1] == 0
    truth = np.asarray(Image.fromarray((alpha * 255).astype(np.uint8)).resize(big.size))
    agreement = np.mean((values > 128) == (truth > 128))
    assert agreement > 0.98


def test_compute_matte_accepts_rgba_and_small_images() -> None:
    image, _ = on_gradient(1, 96)
    matte = compute_matte(image.convert("RGBA"))
    assert matte.size == image.size and matte.mode == "L"
