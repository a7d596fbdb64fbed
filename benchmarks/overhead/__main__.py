"""`python -m benchmarks.overhead [--quick]`: run only this section (writes `overhead.md`)."""

from __future__ import annotations

import sys

from benchmarks.common import BenchSettings
from benchmarks.overhead.section import run

if __name__ == "__main__":
    settings = BenchSettings(quick="--quick" in sys.argv[1:])
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    run(settings)
    print(f"wrote {settings.results_dir / 'overhead.md'}", file=sys.stderr)
