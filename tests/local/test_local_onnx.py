"""The ONNX engine on tiny models: each family's pre/post-processing against hand numbers."""

from __future__ import annotations

import io
import math
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from providers.base import ProviderRequest
from providers.images import encode_png
from providers.local.config import LocalConfig
from providers.local.families import FAMILIES, family, postprocess, preprocess
from providers.local.onnx_engine import ModelLoadError, OnnxEngine, load_session
from providers.local.provider import LocalProvider
from providers.local.refine import edge_band
from tests.local.tiny_models import SIDES, WEIGHTS, build
from tests.synthetic import on_plain

#: Hand-computed pre-processing of a constant (200, 100, 50) image: it is divided by its own
#: maximum (200), giving (1.0, 0.5, 0.25), then by family (x - mean) / std.
HAND_PREPROCESSED: dict[str, tuple[float, float, float]] = {
    "u2net": ((1 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.25 - 0.406) / 0.225),
    "isnet": (0.5, 0.0, -0.25),
    "isnet-anime": (1 - 0.485, 0.5 - 0.456, 0.25 - 0.406),
    "birefnet": ((1 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.25 - 0.406) / 0.225),
    "bria": ((1 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.25 - 0.406) / 0.225),
}
STRIPES = ((200, 100, 50), (20, 180, 90), (60, 60, 240))
MEAN_STD = {
    "u2net": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "isnet": ((0.5, 0.5, 0.5), (1.0, 1.0, 1.0)),
    "isnet-anime": ((0.485, 0.456, 0.406), (1.0, 1.0, 1.0)),
    "birefnet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "bria": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def hand_levels(name: str) -> list[int]:
    """The matte level of each stripe, computed step by step in plain Python."""
    mean, std = MEAN_STD[name]
    peak = max(max(c) for c in STRIPES)  # the image's own maximum (240)
    raw = [sum(w * abs((c / peak - m) / s) for w, c, m, s in zip(WEIGHTS, colour, mean, std,
                                                                   strict=True))
           for colour in STRIPES]
    if name == "birefnet":
        raw = [1 / (1 + math.exp(-v)) for v in raw]
    low, high = min(raw), max(raw)
    return [int((v - low) / (high - low) * 255) for v in raw]


def stripes(side: int) -> np.ndarray:
    """A `side` square of three vertical stripes of STRIPES' colours."""
    image = np.zeros((side, side, 3), np.uint8)
    for index, colour in enumerate(STRIPES):
        image[:, index * side // 3:(index + 1) * side // 3] = colour
    return image


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_preprocess_matches_the_hand_numbers(name: str) -> None:
    image = np.empty((37, 53, 3), np.uint8)
    image[:] = (200, 100, 50)
    tensor = preprocess(image, family(name))
    side = SIDES[name]
    assert tensor.shape == (1, 3, side, side) and tensor.dtype == np.float32
    for channel, expected in enumerate(HAND_PREPROCESSED[name]):
        assert np.allclose(tensor[0, channel], expected, atol=1e-6), (name, channel)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_engine_output_matches_the_hand_computation(tmp_path: Path, name: str) -> None:
    engine = OnnxEngine(build(tmp_path / f"{name}.onnx", name, "weighted_abs"), family(name))
    # At the model's own side nothing is resampled, so LANCZOS ringing at the stripes' borders
    # cannot move the min-max range (resizing is checked on its own below).
    side = SIDES[name]
    matte = engine.matte(stripes(side))
    assert matte.shape == (side, side) and matte.dtype == np.uint8
    centres = [int(matte[side // 2, (2 * i + 1) * side // 6]) for i in range(3)]
    expected = hand_levels(name)
    assert all(abs(got - want) <= 1 for got, want in zip(centres, expected, strict=True)), (
        centres, expected)


def test_a_half_precision_model_gets_float16(tmp_path: Path) -> None:
    path = build(tmp_path / "half.onnx", "isnet", "weighted_abs", half=True)
    matte = OnnxEngine(path, family("isnet")).matte(stripes(SIDES["isnet"]))
    side = SIDES["isnet"]
    centres = [int(matte[side // 2, (2 * i + 1) * side // 6]) for i in range(3)]
    # float16 rounding of the input moves the levels by a step at most.
    assert all(abs(g - w) <= 2 for g, w in zip(centres, hand_levels("isnet"), strict=True))


def test_the_families_differ_where_they_should() -> None:
    # The hand numbers themselves tell the families apart: a test that swapped mean/std or the
    # activation would not pass for all of them.
    levels = {name: hand_levels(name) for name in FAMILIES}
    assert levels["isnet"] != levels["u2net"] != levels["birefnet"]
    assert levels["isnet-anime"] != levels["isnet"]


def test_postprocess_min_max_sigmoid_and_flat() -> None:
    logits = np.array([[[[-2.0, 0.0], [2.0, 4.0]]]], np.float32)
    plain = postprocess(logits, family("isnet"), 2, 2)
    assert plain.tolist() == [[0, 85], [170, 255]]
    squashed = postprocess(logits, family("birefnet"), 2, 2)
    sig = [1 / (1 + math.exp(-v)) for v in (-2.0, 0.0, 2.0, 4.0)]
    hand = [int((s - sig[0]) / (sig[3] - sig[0]) * 255) for s in sig]
    assert squashed.ravel().tolist() == pytest.approx(hand, abs=1)
    flat = postprocess(np.ones((1, 1, 4, 4), np.float32), family("bria"), 8, 8)
    assert flat.shape == (8, 8) and not flat.any()


def test_postprocess_resizes_back_with_lanczos() -> None:
    block = np.zeros((1, 1, 4, 4), np.float32)
    block[..., 2:] = 1.0
    matte = postprocess(block, family("isnet"), 40, 20)
    assert matte.shape == (20, 40)
    small = Image.fromarray((block[0, 0] * 255).astype(np.uint8))
    lanczos = np.asarray(small.resize((40, 20), Image.Resampling.LANCZOS))
    bilinear = np.asarray(small.resize((40, 20), Image.Resampling.BILINEAR))
    assert np.array_equal(matte, lanczos) and not np.array_equal(matte, bilinear)
    assert matte[:, 25:34].min() == 255 and matte[:, 5:15].max() == 0


def test_one_session_per_model_file(tmp_path: Path) -> None:
    path = build(tmp_path / "m.onnx", "isnet", "saliency")
    first = OnnxEngine(path, family("isnet"))
    second = OnnxEngine(path, family("isnet"))
    assert load_session(path) is load_session(path)
    assert first._session is second._session


def test_missing_and_corrupt_files_are_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        OnnxEngine(tmp_path / "absent.onnx", family("isnet"))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not a protobuf")
    with pytest.raises(ModelLoadError, match="corrupt or not an ONNX model") as caught:
        OnnxEngine(corrupt, family("isnet"))
    assert str(corrupt) in str(caught.value)


async def test_provider_matte_is_the_reference_one_unless_refined(tmp_path: Path) -> None:
    build(tmp_path / "u2netp.onnx", "u2net", "saliency")
    image, _ = on_plain(7, 900)  # well above the model's 320 px: refinement has work to do
    rgb = np.asarray(image)
    request = ProviderRequest(image=encode_png(image), image_format="png", width=image.width,
                              height=image.height, request_id="r", deadline=time.monotonic() + 60)
    mattes = {}
    for refine in (False, True):
        provider = LocalProvider("local", LocalConfig(model="u2netp", model_dir=str(tmp_path),
                                                      refine=refine))
        result = await provider.remove_background(request)
        mattes[refine] = np.asarray(Image.open(io.BytesIO(result.data)))
    reference = OnnxEngine(tmp_path / "u2netp.onnx", family("u2net")).matte(rgb)
    assert np.array_equal(mattes[False], reference)
    changed = mattes[True] != reference
    assert changed.any()
    # Refinement only touches the soft edge (and the pixel next to it), nothing settled.
    assert not changed[~edge_band(reference, 1)].any()
