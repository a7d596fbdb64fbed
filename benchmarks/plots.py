"""Small matplotlib helpers (Agg backend, PNG files) shared by the benchmark sections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def bar_chart(
    path: Path, title: str, groups: Sequence[str], series: Mapping[str, Sequence[float]],
    ylabel: str, log: bool = False,
) -> Path:
    """Grouped bars: one group per entry of `groups`, one bar per series; returns `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.2), dpi=110)
    width = 0.8 / max(1, len(series))
    for index, (label, values) in enumerate(series.items()):
        positions = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        axes.bar(positions, list(values), width=width, label=label)
    axes.set_xticks(range(len(groups)), list(groups))
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    if log:
        axes.set_yscale("log")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def stacked_bars(
    path: Path, title: str, bars: Sequence[str], layers: Mapping[str, Sequence[float]],
    ylabel: str,
) -> Path:
    """One bar per entry of `bars`, each stacked from `layers` (same length as `bars`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 4.5), dpi=110)
    bottoms = [0.0] * len(bars)
    for label, values in layers.items():
        axes.bar(range(len(bars)), list(values), bottom=bottoms, label=label)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    axes.set_xticks(range(len(bars)), list(bars), fontsize="small")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
