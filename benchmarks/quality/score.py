"""Per-image score rows and their per-background aggregation."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np

from benchmarks.quality.generate import Sample
from gateway import quality

#: Columns of the matte tables: (label, attribute of Row).
MATTE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("SAD/1000", "sad"), ("MSE", "mse"), ("Grad/1000", "gradient"),
    ("Conn/1000", "connectivity"), ("IoU", "iou"),
)


class Prediction(msgspec.Struct, frozen=True):
    """What a method produced for one sample: straight alpha (HxW float 0-1) and colour."""

    alpha: np.ndarray
    rgb: np.ndarray
    seconds: float


class Row(msgspec.Struct, frozen=True):
    """Scores of one method on one sample."""

    sample: str
    background: str
    method: str
    sad: float
    mse: float
    gradient: float
    connectivity: float
    iou: float
    partial_share_pred: float
    partial_share_true: float
    fg_error: float
    """Mean abs RGB error (8-bit levels) where the true alpha > 0."""
    fg_error_edge: float
    """The same on partially transparent true pixels only (where despill acts)."""
    seconds: float


def score_prediction(
    sample: Sample, method: str, prediction: Prediction, mask: np.ndarray | None = None
) -> Row:
    """Score `prediction` against the sample's true alpha and foreground over `mask`."""
    scores = quality.score(prediction.alpha, sample.alpha, mask)
    edge = (sample.alpha > 0.5 / 255) & (sample.alpha < 254.5 / 255)
    if mask is not None:
        edge &= mask
    return Row(
        sample=sample.name, background=sample.background, method=method,
        sad=scores.sad, mse=scores.mse, gradient=scores.gradient,
        connectivity=scores.connectivity, iou=scores.iou,
        partial_share_pred=scores.partial_share_pred,
        partial_share_true=scores.partial_share_true,
        fg_error=quality.foreground_error(prediction.rgb, sample.foreground, sample.alpha, mask),
        fg_error_edge=quality.foreground_error(
            prediction.rgb, sample.foreground, sample.alpha, edge
        ),
        seconds=prediction.seconds,
    )


def means(rows: Sequence[Row], method: str, attribute: str) -> dict[str, float]:
    """Mean of `attribute` per background (plus `all`) over the rows of `method`."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.method == method:
            value = float(getattr(row, attribute))
            grouped[row.background].append(value)
            grouped["all"].append(value)
    return {kind: float(np.mean(values)) for kind, values in grouped.items()}


def backgrounds(rows: Sequence[Row]) -> list[str]:
    """Background kinds in first-seen order, then `all`."""
    seen = list(dict.fromkeys(row.background for row in rows))
    return [*seen, "all"]


def write_csv(rows: Sequence[Row], path: Path) -> Path:
    """Every row as CSV (one line per sample and method)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(Row.__struct_fields__)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(fields)
        for row in rows:
            writer.writerow([getattr(row, f) for f in fields])
    return path
