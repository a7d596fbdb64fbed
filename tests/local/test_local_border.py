"""Products cut off by the frame, and thin strands: the classic engine keeps keying them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from providers.local.border import foreign_runs
from providers.local.classic import ClassicEngine, border_strip, fit_border
from tests.synthetic import Edge, edge_photo, iou


def _fit(image: Image.Image):
    rgb = np.asarray(image)
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return fit_border(lab, rgb.astype(np.float32))


@pytest.mark.parametrize("backdrop", ["plain", "gradient"])
@pytest.mark.parametrize("edges", [("bottom",), ("bottom", "left"), ("top", "right")])
@pytest.mark.parametrize("seed", range(1, 4))
def test_product_touching_the_frame_is_keyed(backdrop: str, edges: tuple[Edge, ...],
                                             seed: int) -> None:
    image, alpha = edge_photo(backdrop, seed, 320, edges, cut=0.45)  # type: ignore[arg-type]
    touched = {"bottom": alpha[-1], "top": alpha[0], "left": alpha[:, 0], "right": alpha[:, -1]}
    assert all(touched[edge].max() == 1.0 for edge in edges)  # the product really is cut off
    # Over a tenth of the border is product: more than a "90% of the border fits" rule allows.
    assert (alpha[border_strip(*alpha.shape)] > 0.5).mean() > 0.1
    assert _fit(image).is_backdrop
    matte = ClassicEngine().matte(np.asarray(image))
    assert iou(matte, alpha) >= 0.95
    assert matte[0, 0] == 0 or "top" in edges or "left" in edges


def test_product_filling_a_whole_side_is_not_keyed() -> None:
    image, _ = edge_photo("plain", 0, 256, ("bottom",), cut=0.2)
    rgb = np.asarray(image).copy()
    rgb[-40:] = (120, 80, 50)  # a table along the whole bottom edge: another surface
    assert not _fit(Image.fromarray(rgb)).is_backdrop


def test_strands_do_not_wall_in_the_backdrop() -> None:
    # A dark body inside a ring of thin hair-like curves: the backdrop between them is
    # enclosed but still background; the strands keep some, not full, alpha.
    size = 320
    big = np.zeros((size * 4, size * 4), np.uint8)
    cv2.rectangle(big, (480, 480), (800, 800), 255, -1)
    strands = np.zeros_like(big)
    cv2.circle(strands, (640, 640), 300, 255, 2, cv2.LINE_AA)
    body = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA) / 255.0
    hair = cv2.resize(strands, (size, size), interpolation=cv2.INTER_AREA) / 255.0
    alpha = np.maximum(body, hair * 0.8)[..., None]
    colour = np.array([60, 40, 30], np.float32)
    rgb = np.clip(colour * alpha + 240 * (1 - alpha), 0, 255).astype(np.uint8)
    matte = ClassicEngine().matte(rgb)
    assert np.all(matte[150:170, 150:170] == 255)  # body
    between = np.zeros((size, size), bool)
    cv2.circle(between.view(np.uint8), (160, 160), 65, 1, 8)
    assert between.sum() > 1000
    assert np.all(matte[between] == 0)
    ring = hair > 0.4
    assert 0 < np.median(matte[ring]) < 255


def test_foreign_runs_wrap_around_the_perimeter() -> None:
    explained = np.ones(400, bool)
    assert foreign_runs(explained) == []
    explained[390:] = False
    explained[:20] = False  # one run across the start of the ring
    explained[200:240] = False
    runs = foreign_runs(explained)
    assert sorted(length for _, length in runs) == [30, 40]
    explained[300] = False  # a one-sample blip is noise, not a product
    assert len(foreign_runs(explained)) == 2


@pytest.mark.parametrize("seed", range(2))
def test_backdrop_coloured_label_cut_by_the_frame_stays_foreground(seed: int) -> None:
    # The near-white label runs off the right edge: reaching the frame's edge between two
    # stretches of product does not make it backdrop.
    image, alpha = edge_photo("plain", seed, 320, ("right",), cut=0.45)
    rgb = np.asarray(image).astype(int)
    label = (alpha == 1.0) & (rgb.min(axis=-1) > 235)
    assert label[:, -1].sum() > 20
    matte = ClassicEngine().matte(np.asarray(image))
    assert np.all(matte[label] == 255)
