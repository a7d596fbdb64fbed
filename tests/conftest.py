"""Shared test set-up: a writable numba cache so pymatting compiles once per machine."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "numba")
)
