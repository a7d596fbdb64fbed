"""Trimap matting: exact clamps, better edges than the coarse matte, bounded solve size."""

from __future__ import annotations

import numpy as np
import pytest

from providers.local.classic import ClassicEngine
from providers.local.matting import (
    closed_form_solver,
    has_both_sides,
    matte_from_trimap,
    plan_crop,
    unknown_mask,
    warm_up,
)
from tests.synthetic import GENERATORS, trimap_from_alpha


class RecordingSolver:
    """The real closed-form solver, remembering the shape of every crop it solved."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def __call__(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        assert image.shape[:2] == trimap.shape
        self.shapes.append(trimap.shape)
        return closed_form_solver(image, trimap)


def test_known_pixels_are_clamped_exactly() -> None:
    image, alpha = GENERATORS["plain"](1, 256)
    trimap = trimap_from_alpha(alpha, band=6)
    matte = matte_from_trimap(np.asarray(image), trimap)
    assert matte.shape == trimap.shape and matte.dtype == np.uint8
    assert np.all(matte[trimap == 0] == 0)
    assert np.all(matte[trimap == 255] == 255)


@pytest.mark.parametrize(("backdrop", "seed"), [("plain", 0), ("gradient", 1), ("clutter", 2)])
def test_band_error_is_lower_than_the_coarse_matte(backdrop: str, seed: int) -> None:
    image, alpha = GENERATORS[backdrop](seed, 320)
    rgb = np.asarray(image)
    trimap = trimap_from_alpha(alpha, band=8)
    band = unknown_mask(trimap)
    coarse = ClassicEngine().matte(rgb)
    refined = matte_from_trimap(rgb, trimap)

    def sad(matte: np.ndarray) -> float:
        return float(np.abs(matte[band] / 255.0 - alpha[band]).sum())

    assert sad(refined) < sad(coarse)


def test_large_band_is_downscaled_to_the_pixel_cap() -> None:
    image, alpha = GENERATORS["gradient"](3, 512)
    trimap = trimap_from_alpha(alpha, band=10)
    solver = RecordingSolver()
    cap = 20_000
    matte = matte_from_trimap(np.asarray(image), trimap, max_pixels=cap, solver=solver)
    (solved,) = solver.shapes
    assert solved[0] * solved[1] <= cap
    crop = plan_crop(trimap, cap)
    assert crop is not None and crop.scaled
    assert (crop.bottom - crop.top) * (crop.right - crop.left) > cap
    # Back at full resolution, clamped exactly, and still a decent matte.
    assert matte.shape == alpha.shape
    assert np.all(matte[trimap == 0] == 0) and np.all(matte[trimap == 255] == 255)
    band = unknown_mask(trimap)
    assert np.abs(matte[band] / 255.0 - alpha[band]).mean() < 0.15


def test_small_band_is_solved_at_full_resolution_on_its_box_only() -> None:
    image, alpha = GENERATORS["plain"](4, 256)
    trimap = trimap_from_alpha(alpha, band=5)
    solver = RecordingSolver()
    matte_from_trimap(np.asarray(image), trimap, max_pixels=10_000_000, solver=solver)
    crop = plan_crop(trimap, 10_000_000)
    assert crop is not None and not crop.scaled
    assert solver.shapes == [(crop.bottom - crop.top, crop.right - crop.left)]
    assert solver.shapes[0][0] * solver.shapes[0][1] < alpha.size


def test_trimap_without_unknown_pixels_is_returned_as_is() -> None:
    trimap = np.zeros((40, 50), np.uint8)
    trimap[10:30, 10:40] = 255
    assert plan_crop(trimap, 1000) is None
    rgb = np.zeros((40, 50, 3), np.uint8)
    assert np.array_equal(matte_from_trimap(rgb, trimap), trimap)


def test_mismatched_trimap_is_refused() -> None:
    with pytest.raises(ValueError, match="trimap"):
        matte_from_trimap(np.zeros((10, 12, 3), np.uint8), np.zeros((12, 10), np.uint8))


def test_has_both_sides() -> None:
    trimap = np.full((8, 8), 128, np.uint8)
    assert not has_both_sides(trimap)
    trimap[0, 0] = 0
    assert not has_both_sides(trimap)
    trimap[-1, -1] = 255
    assert has_both_sides(trimap)


def test_warm_up_runs() -> None:
    warm_up()
