"""What every benchmark section shares: its run settings and small Markdown helpers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
NUMBA_CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache" / "numba"


@dataclass(frozen=True)
class BenchSettings:
    """Settings of one benchmark run, handed to every section."""

    results_dir: Path = RESULTS_DIR
    quick: bool = False
    seed: int = 0

    @property
    def data_dir(self) -> Path:
        """Where generated inputs go (never committed)."""
        return self.results_dir / "data"


def use_numba_cache() -> None:
    """Share the project's numba cache so pymatting compiles once per machine."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(NUMBA_CACHE_DIR))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; floats are shown with 3 significant decimals."""
    def cell(value: object) -> str:
        if isinstance(value, float):
            if value != value:  # NaN: not measured for this row
                return "—"
            return f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
