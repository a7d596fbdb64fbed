"""`scale` and `position`: the subject's size and place on the canvas, as remove.bg does."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidOption
from gateway.postprocess.placement import CENTER, parse_position, parse_scale, place
from tests.postprocess.geometry import SUBJECT_RGB, box_frame, opaque_box


def test_parse() -> None:
    assert parse_scale("scale", "original") is None
    assert parse_scale("scale", "50%") == 50
    assert parse_position("position", "center") == CENTER
    assert parse_position("position", "25%") == (25, 25)
    assert parse_position("position", "0% 100%") == (0, 100)
    assert parse_position("position", "original") is None


@pytest.mark.parametrize("value", ["5%", "101%", "big", "-10%"])
def test_bad_scale(value: str) -> None:
    with pytest.raises(InvalidOption, match="`scale`"):
        parse_scale("scale", value)


@pytest.mark.parametrize("value", ["left", "10% 20% 30%", "150%"])
def test_bad_position(value: str) -> None:
    with pytest.raises(InvalidOption, match="`position`"):
        parse_position("position", value)


def test_scale_fits_the_subject_into_the_canvas_and_centres_it() -> None:
    # A 40x50 subject on 200x100: 50 % of the canvas fits its height to 50 px -> 40x50.
    out = place(box_frame(box=(20, 30, 60, 80)), 50.0, CENTER)
    x0, y0, x1, y1 = opaque_box(out.alpha)
    assert (x1 - x0, y1 - y0) == (40, 50)
    assert (x0, y0) == (80, 25)
    # 100 %: the height fills the canvas, the width grows by the same factor (2x).
    out = place(box_frame(box=(20, 30, 60, 80)), 100.0, CENTER)
    x0, y0, x1, y1 = opaque_box(out.alpha)
    assert (y0, y1) == (0, 100)
    assert abs((x1 - x0) - 80) <= 1
    assert tuple(out.rgb[50, 100]) == SUBJECT_RGB


def test_position_moves_the_subject_without_resizing() -> None:
    out = place(box_frame(box=(20, 30, 60, 80)), None, (100.0, 0.0))
    assert opaque_box(out.alpha) == (160, 0, 200, 50)
    out = place(box_frame(box=(20, 30, 60, 80)), None, (0.0, 100.0))
    assert opaque_box(out.alpha) == (0, 50, 40, 100)


def test_scale_with_original_position_keeps_the_centre() -> None:
    out = place(box_frame(box=(20, 30, 60, 80)), 25.0, None)
    x0, y0, x1, y1 = opaque_box(out.alpha)
    assert (abs((x0 + x1) / 2 - 40) <= 1, abs((y0 + y1) / 2 - 55) <= 1) == (True, True)
    assert y1 - y0 == 25


def test_empty_matte_is_left_alone() -> None:
    frame = box_frame()
    frame.alpha.fill(0)
    assert place(frame, 50.0, CENTER) is frame
