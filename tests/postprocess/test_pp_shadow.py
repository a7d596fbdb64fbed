"""`shadow`: under the subject (below, blurred, partly transparent), never over it."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.errors import InvalidOption
from gateway.postprocess.shadow import (
    ShadowKind,
    cast_shadow,
    contact_matte,
    drop_matte,
    drop_shadow,
    floor_matte,
    parse_opacity,
)
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


#: A tall subject with room below it: x 40..120, y 20..100 on a 200x160 canvas.
TALL = {"width": 200, "height": 160, "box": (40, 20, 120, 100)}
BOTTOM, RIGHT = 100, 120


@pytest.mark.parametrize("kind", ["drop", "3d", "car"])
def test_every_shadow_type_is_under_the_subject_and_never_over_it(kind: ShadowKind) -> None:
    frame = box_frame(**TALL)  # type: ignore[arg-type]
    out = cast_shadow(box_frame(**TALL), 80, kind)  # type: ignore[arg-type]
    inside = frame.alpha == 255
    assert (out.alpha[inside] == 255).all()
    assert (out.rgb[inside] == SUBJECT_RGB).all()
    shadow = np.where(inside, 0, out.alpha).astype(np.float64)
    rows = np.arange(shadow.shape[0])[:, None]
    # Its weight lies in the subject's lower half or below, it is dark and within the opacity.
    assert (shadow * rows).sum() / shadow.sum() > 60
    assert 0 < shadow.max() <= round(0.8 * 255) + 1
    assert (out.rgb[~inside & (out.alpha > 20)] < 20).all()
    assert out.alpha[5, 5] == 0


@pytest.mark.parametrize("kind", ["3d", "car"])
def test_ground_shadows_hug_the_bottom_edge(kind: ShadowKind) -> None:
    """3D and car lie on the ground: nothing beside the subject's body, shade just below it."""
    out = cast_shadow(box_frame(**TALL), 90, kind)  # type: ignore[arg-type]
    assert out.alpha[: BOTTOM - 10, RIGHT:].max() == 0  # beside the body: clear
    assert out.alpha[BOTTOM + 1, 60:100].min() > 40  # right under the base: shaded
    assert out.alpha[BOTTOM + 30 :].max() == 0  # far below: clear


def test_shadow_types_look_different() -> None:
    """drop falls beside the body; 3D reaches further down than the car's contact ellipse."""
    frame = box_frame(**TALL)  # type: ignore[arg-type]
    alpha = np.ascontiguousarray(frame.alpha)
    drop, floor, contact = (m(alpha, 100) for m in (drop_matte, floor_matte, contact_matte))
    assert drop[50, RIGHT + 2] > 40 and floor[50, RIGHT + 2] == contact[50, RIGHT + 2] == 0
    reach = {name: int(np.flatnonzero(m[:, 80] > 20)[-1])
             for name, m in (("3d", floor), ("car", contact))}
    assert reach["3d"] >= BOTTOM + 12 > BOTTOM + 6 >= reach["car"]
    # The car's ellipse is centred on the edge (upper half behind the subject); 3D starts there.
    assert contact[BOTTOM - 3, 80] > 150 and floor[BOTTOM - 3, 80] < 80
    assert np.abs(floor.astype(int) - contact.astype(int)).mean() > 1


def test_ground_shadows_follow_the_silhouette_and_skip_empty_mattes() -> None:
    """3D casts the outline (a narrow top casts a narrow tip); an empty matte casts nothing."""
    alpha = np.zeros((160, 200), np.uint8)
    alpha[20:60, 90:110] = 255  # a narrow head over a wide body
    alpha[60:100, 40:160] = 255
    floor = floor_matte(alpha, 100)
    assert floor[BOTTOM + 2, 50] > 40  # near the base: as wide as the body
    assert floor[BOTTOM + 13, 100] > 150 > 20 > floor[BOTTOM + 13, 50]  # the tip: the head
    empty = np.zeros((40, 40), np.uint8)
    for matte in (floor_matte, contact_matte):
        assert not matte(empty, 100).any()
