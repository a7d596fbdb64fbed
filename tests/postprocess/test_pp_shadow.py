"""`shadow`: under the subject (below, blurred, partly transparent), never over it."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.errors import InvalidOption
from gateway.postprocess.shadow import drop_shadow, parse_opacity
from tests.postprocess.geometry import SUBJECT_RGB, box_frame


def test_opacity_parsing() -> None:
    assert parse_opacity("shadow_opacity", "80") == 80
    assert parse_opacity("shadow_opacity", "auto") == 50
    for bad in ("101", "-1", "dark"):
        with pytest.raises(InvalidOption, match="`shadow_opacity`"):
            parse_opacity("shadow_opacity", bad)


def test_shadow_is_under_and_not_over_the_subject() -> None:
    frame = box_frame(box=(20, 30, 60, 80))
    out = drop_shadow(box_frame(box=(20, 30, 60, 80)), 60)
    inside = frame.alpha == 255
    # The subject itself is untouched.
    assert (out.alpha[inside] == 255).all()
    assert (out.rgb[inside] == SUBJECT_RGB).all()
    # Just below the subject: a dark, partly transparent shadow, at most the opacity.
    below = out.alpha[82:86, 30:50]
    assert below.min() > 20
    assert below.max() <= round(0.6 * 255) + 1
    assert (out.rgb[82:86, 30:50] < 20).all()
    # Above the subject (opposite the offset) it is nearly clear, and far away fully clear.
    assert out.alpha[26, 30:50].max() < below.min()
    assert out.alpha[5, 150] == 0


def test_zero_opacity_changes_nothing_visible() -> None:
    frame = box_frame()
    out = drop_shadow(box_frame(), 0)
    assert np.array_equal(out.alpha, frame.alpha)
