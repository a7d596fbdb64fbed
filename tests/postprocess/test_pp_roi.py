"""`roi`: parsing (remove.bg's syntax), bounds, and everything outside it transparent."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.errors import InvalidOption
from gateway.postprocess.roi import clip_roi, parse_roi, roi_box
from providers.base import Length, Roi
from tests.postprocess.geometry import box_frame


def test_parse_pixels_percent_bare_and_commas() -> None:
    roi = parse_roi("roi", "10px, 20 50% 100%")
    assert roi == Roi(Length(10, "px"), Length(20, "px"), Length(50, "%"), Length(100, "%"))
    assert parse_roi("roi", "0% 0% 100% 100%") is None


@pytest.mark.parametrize("value", ["1 2 3", "a b c d", "0 0 101% 50%", "50 0 40 10", "-1 0 5 5"])
def test_malformed_roi_names_the_option(value: str) -> None:
    with pytest.raises(InvalidOption, match="`roi`"):
        parse_roi("roi", value)


def test_box_in_pixels_and_out_of_bounds() -> None:
    roi = parse_roi("roi", "10px 0px 50% 100%")
    assert roi is not None
    assert roi_box(roi, 200, 100) == (10, 0, 100, 100)
    far = parse_roi("roi", "0 0 300px 50px")
    assert far is not None
    with pytest.raises(InvalidOption, match="outside"):
        roi_box(far, 200, 100)


def test_pixels_outside_the_roi_are_transparent() -> None:
    frame = box_frame(box=(20, 30, 60, 80))
    roi = parse_roi("roi", "40px 0px 100% 100%")
    assert roi is not None
    out = clip_roi(frame, roi)
    assert not out.alpha[:, :40].any()
    assert (out.alpha[30:80, 40:60] == 255).all()
    assert np.count_nonzero(out.alpha) == 40 * 50 // 2
