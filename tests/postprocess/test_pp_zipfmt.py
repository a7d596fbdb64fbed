"""`format=zip`: color.jpg + alpha.png that re-assemble to the cut-out."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image

from gateway.postprocess.foreground import foreground_of, subject_box
from gateway.postprocess.zipfmt import encode_zip
from tests.postprocess.geometry import box_frame


def test_members_reassemble_to_the_frame() -> None:
    frame = box_frame(box=(20, 30, 60, 80))
    data = encode_zip(frame, "rgba")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
        color = Image.open(io.BytesIO(archive.read("color.jpg")))
        matte = Image.open(io.BytesIO(archive.read("alpha.png")))
    assert (color.mode, matte.mode, color.size, matte.size) == ("RGB", "L", (200, 100), (200, 100))
    assert np.array_equal(np.asarray(matte), frame.alpha)
    diff = np.abs(np.asarray(color).astype(int) - frame.rgb.astype(int))
    assert diff.mean() < 3


def test_matte_only_zip_and_its_foreground() -> None:
    data = encode_zip(box_frame(box=(20, 30, 60, 80)), "alpha")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["alpha.png"]
    assert foreground_of(data, "application/zip", True) == (30, 20, 40, 50)
    assert subject_box(np.zeros((4, 4), np.uint8)) == (0, 0, 0, 0)
