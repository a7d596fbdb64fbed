"""Run every benchmark section and write `benchmarks/results/report.md` (plus PNG plots).

    python -m benchmarks.run [--quick] [--only quality,postprocess] [--results DIR]

A section is a module with `NAME: str`, `TITLE: str` and `run(settings: BenchSettings) -> str`
returning Markdown; it may write PNG files into `settings.results_dir` and link them relatively.
Sections are numbered in the order of SECTIONS; adding one is adding one line there.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import RESULTS_DIR, BenchSettings, use_numba_cache

SECTIONS: tuple[str, ...] = (
    "benchmarks.quality.section",
    "benchmarks.postprocess.section",
    "benchmarks.overhead.section",
    "benchmarks.responsiveness",
)


def _header(settings: BenchSettings) -> str:
    import numpy
    import PIL

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "# bg-gateway benchmarks",
        "",
        f"Run {when}{' (quick)' if settings.quick else ''}; seed {settings.seed}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}; "
        f"numpy {numpy.__version__}, Pillow {PIL.__version__}.",
        "Reproduce with `.venv/bin/python -m benchmarks.run"
        f"{' --quick' if settings.quick else ''}`.",
    ])


def run_sections(settings: BenchSettings, modules: Sequence[str]) -> tuple[str, bool]:
    """Run `modules` in order; return the report and whether every section succeeded."""
    parts = [_header(settings)]
    ok = True
    for number, module_name in enumerate(modules, start=1):
        module = importlib.import_module(module_name)
        print(f"[bench] {number}. {module.TITLE} ...", file=sys.stderr, flush=True)
        started, load_before = time.perf_counter(), os.getloadavg()[0]
        try:
            body = module.run(settings)
        except Exception:
            ok = False
            body = "**Section failed:**\n\n```\n" + traceback.format_exc() + "```"
        elapsed = time.perf_counter() - started
        print(f"[bench] {number}. done in {elapsed:.0f} s", file=sys.stderr, flush=True)
        load = f"1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
        parts.append(f"## {number}. {module.TITLE}\n\n_{elapsed:.0f} s; {load}._\n\n{body.strip()}")
    return "\n\n".join(parts) + "\n", ok


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; exit status 1 when a section failed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats")
    parser.add_argument("--only", default="", help="comma list of section NAMEs to run")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    use_numba_cache()
    settings = BenchSettings(results_dir=args.results, quick=args.quick, seed=args.seed)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Generated inputs are large and reproducible from the seed: keep them out of git.
    (settings.data_dir / ".gitignore").write_text("*\n", encoding="utf-8")
    modules = list(SECTIONS)
    if args.only:
        wanted = {name.strip() for name in args.only.split(",") if name.strip()}
        modules = [m for m in modules if importlib.import_module(m).NAME in wanted]
    report, ok = run_sections(settings, modules)
    path = settings.results_dir / "report.md"
    path.write_text(report, encoding="utf-8")
    print(f"[bench] wrote {path}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
