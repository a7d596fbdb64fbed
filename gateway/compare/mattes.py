"""Mattes for the comparison: ground truth, served outputs aligned to the frame, and scores.

Pure and CPU-bound: callers run these in a worker thread. The metrics themselves are
`gateway.quality`; this module only decodes, aligns and picks which ones to report.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping
from typing import Literal

import cv2
import msgspec
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from gateway import quality
from gateway.errors import GatewayError, InvalidImage
from gateway.postprocess._decode import (
    alpha_array,
    load_oriented,
    open_header,
    oriented_size,
    to_gray_array,
)
from providers.base import OutputOptions
from providers.images import sniff_format

Alpha = NDArray[np.uint8]
#: Outputs whose aspect ratio differs more than this from the input's were cropped.
_ASPECT_TOLERANCE = 0.02


class PairAgreement(msgspec.Struct, frozen=True):
    """How close two providers' mattes are (IoU of alpha>0.5, SAD/1000, mean abs difference)."""

    iou: float
    sad: float
    mad: float


class QualityFigures(msgspec.Struct, frozen=True, omit_defaults=True):
    """One provider's quality: against the ground truth, or agreement with the others."""

    against: Literal["ground_truth", "pairwise"]
    region: Literal["all", "unknown"]
    partial_share: float
    """Share of partially transparent pixels (soft edges) in the scored region."""
    sad: float | None = None
    mse: float | None = None
    gradient: float | None = None
    connectivity: float | None = None
    iou: float | None = None
    agreement: dict[str, PairAgreement] | None = None


def metrics_blocker(options: OutputOptions) -> str | None:
    """Why outputs made with `options` carry no usable matte, or None when they do."""
    if options.bg_color is not None:
        return "bg_color replaces the alpha channel; compare without it for metrics"
    if options.crop:
        return "crop changes the frame; compare without it for metrics"
    if options.format == "jpg" and options.channels == "rgba":
        return "jpg carries no alpha; use png/webp or channels=alpha for metrics"
    return None


def read_ground_truth(data: bytes, width: int, height: int, max_pixels: int) -> Alpha:
    """Decode the ground-truth alpha (its alpha band, else its grey levels) at the image's size."""
    image_format = sniff_format(data) if data else None
    if image_format is None:
        raise InvalidImage("`ground_truth` is not a decodable image")
    try:
        with open_header(data, image_format, max_pixels) as image:
            size = oriented_size(image)
            if size != (width, height):
                raise InvalidImage(
                    f"`ground_truth` is {size[0]}x{size[1]}; the image is {width}x{height}"
                )
            loaded = load_oriented(image)
            alpha = alpha_array(loaded)
            return alpha if alpha is not None else to_gray_array(loaded)
    except InvalidImage:
        raise
    except GatewayError as exc:
        raise InvalidImage(f"`ground_truth`: {exc.detail}") from None


def read_trimap(data: bytes) -> Alpha:
    """The validated (normalised PNG) trimap as a uint8 array."""
    with Image.open(io.BytesIO(data)) as image:
        return np.array(image.convert("L"))


def served_matte(data: bytes, width: int, height: int) -> Alpha | None:
    """The matte of a served image scaled to width x height; None without alpha or if cropped."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        alpha = np.array(image) if image.mode == "L" else alpha_array(image)
    if alpha is None:
        return None
    rows, cols = alpha.shape
    if (cols, rows) == (width, height):
        return alpha
    if abs(cols / rows - width / height) > _ASPECT_TOLERANCE * (width / height):
        return None
    return np.asarray(cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR))


def _r(value: float) -> float:
    return round(value, 6)


def agreement(a: Alpha, b: Alpha) -> PairAgreement:
    """IoU, SAD and mean absolute difference between two mattes of one frame."""
    return PairAgreement(
        iou=_r(quality.iou(a, b)), sad=_r(quality.sad(a, b)), mad=_r(quality.mad(a, b))
    )


def score_mattes(
    mattes: Mapping[str, Alpha], truth: Alpha | None, trimap: Alpha | None
) -> dict[str, QualityFigures]:
    """Quality per provider: full scores against `truth`, else pairwise agreement."""
    mask = None
    if trimap is not None:
        unknown = quality.unknown_region(trimap)
        mask = unknown if unknown.any() else None
    region: Literal["all", "unknown"] = "all" if mask is None else "unknown"
    if truth is not None:
        figures = {}
        for name, matte in mattes.items():
            s = quality.score(matte, truth, mask)
            figures[name] = QualityFigures(
                against="ground_truth", region=region, partial_share=_r(s.partial_share_pred),
                sad=_r(s.sad), mse=_r(s.mse), gradient=_r(s.gradient),
                connectivity=_r(s.connectivity), iou=_r(s.iou),
            )
        return figures
    pairs: dict[str, dict[str, PairAgreement]] = {name: {} for name in mattes}
    for first, second in itertools.combinations(mattes, 2):
        agreed = agreement(mattes[first], mattes[second])
        pairs[first][second] = pairs[second][first] = agreed
    return {
        name: QualityFigures(
            against="pairwise", region="all",
            partial_share=_r(quality.partial_share(matte)), agreement=pairs[name],
        )
        for name, matte in mattes.items()
    }
