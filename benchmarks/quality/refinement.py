"""Experiment: does full-resolution edge refinement beat a bicubic upscale of a model's matte?

No model weights are needed. The true alpha of each generated composite is degraded the way a
model's output is (area-downscaled to the model's side, blurred by one model pixel, quantised
to 8 bits), then brought back to full size two ways: bicubic upscale, and bicubic upscale +
`providers.local.refine.refine_matte`. Both are scored against the truth in the edge band: the
pixels within two model pixels of a partial true alpha, plus every pixel the refinement changed
(so alpha it leaks away from the true edge counts against it). Metrics: SAD and gradient error.

    python -m benchmarks.quality.refinement --count 12
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from benchmarks.common import table
from benchmarks.quality.generate import make_sample
from providers.local.raster import upscale_matte
from providers.local.refine import refine_matte

#: Model sides tried on the ~1 MP composites: 320 px is a 3.8x upscale (the ratio of a 1024 px
#: model on a 12 MP photo, or a 320 px one on 1 MP); 100 px is 12x (320 px on 12 MP).
MODEL_SIDES: tuple[int, ...] = (320, 100)


@dataclass(frozen=True)
class Score:
    """Edge-band errors of one upscaled matte (SAD and gradient error in thousands)."""

    sad: float
    grad: float
    seconds: float


def degrade(alpha: np.ndarray, model_side: int) -> np.ndarray:
    """uint8 matte at `model_side` (long side) as a model would output it."""
    height, width = alpha.shape
    scale = model_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 1.0)
    return np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)


def edge_band(alpha: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within `radius` of a partial true alpha."""
    partial = ((alpha > 0.01) & (alpha < 0.99)).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(partial, kernel).astype(bool)


def _gradient(alpha: np.ndarray) -> np.ndarray:
    """Gradient magnitude after a Gaussian of sigma 1.4 (the usual matting benchmark setting)."""
    smooth = cv2.GaussianBlur(alpha, (0, 0), 1.4)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return np.sqrt(gx * gx + gy * gy)


def score(pred: np.ndarray, truth: np.ndarray, band: np.ndarray, seconds: float) -> Score:
    """SAD and gradient error of `pred` (uint8) against `truth` (float 0..1) in `band`."""
    alpha = pred.astype(np.float32) / 255.0
    sad = float(np.abs(alpha - truth)[band].sum()) / 1000
    grad = float(((_gradient(alpha) - _gradient(truth)) ** 2)[band].sum()) / 1000 * 100
    return Score(sad, grad, seconds)


def run(count: int, seed: int = 0) -> dict[tuple[int, str], list[Score]]:
    """Scores per (model side, method) over the first `count` composites."""
    results: dict[tuple[int, str], list[Score]] = {}
    for index in range(count):
        sample = make_sample(index, seed)
        height, width = sample.alpha.shape
        for side in MODEL_SIDES:
            small = degrade(sample.alpha, side)
            near = edge_band(sample.alpha, max(2, round(2 * max(height, width) / side)))
            started = time.perf_counter()
            bicubic = upscale_matte(small, width, height)
            bicubic_s = time.perf_counter() - started
            started = time.perf_counter()
            refined = refine_matte(sample.image, bicubic, side)
            refined_s = time.perf_counter() - started + bicubic_s
            band = near | (refined != bicubic)
            results.setdefault((side, "bicubic"), []).append(
                score(bicubic, sample.alpha, band, bicubic_s))
            results.setdefault((side, "refined"), []).append(
                score(refined, sample.alpha, band, refined_s))
        print(f"[refinement] {index + 1}/{count}", file=sys.stderr, end="\r", flush=True)
    print(file=sys.stderr)
    return results


def report(results: dict[tuple[int, str], list[Score]]) -> str:
    """Markdown table: mean SAD, gradient error and seconds per (model side, method)."""
    rows: list[list[object]] = []
    for (side, method), scores in sorted(results.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        wins = ""
        if method == "refined":
            base = results[(side, "bicubic")]
            wins = f"{sum(r.sad < b.sad for r, b in zip(scores, base, strict=True))}/{len(scores)}"
        rows.append([side, method, len(scores), float(np.mean([s.sad for s in scores])),
                     float(np.mean([s.grad for s in scores])),
                     float(np.mean([s.seconds for s in scores])), wins])
    return table(["model side", "upscale", "n", "SAD (k)", "grad err", "s / image",
                  "SAD wins"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality.refinement",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(report(run(args.count, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
