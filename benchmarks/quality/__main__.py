"""Score providers on image + `*.alpha.png` pairs (or on the generated composites).

    python -m benchmarks.quality                                    # generated set, local provider
    python -m benchmarks.quality --images DIR --config config/gateway.toml --providers a,b
    python -m benchmarks.quality --export DIR --count 48            # write the generated pairs

Writes `quality-report.md`, `quality.csv` and PNG plots into `--results`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import RESULTS_DIR, use_numba_cache
from benchmarks.quality.dataset import find_pairs
from benchmarks.quality.evaluate import ProviderSpec, Task, check_names
from benchmarks.quality.generate import make_sample, write_sample
from benchmarks.quality.section import FULL_COUNT, evaluate, generated_tasks, report


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, help="folder of NAME.<ext> + NAME.alpha.png")
    parser.add_argument("--config", type=Path, help="gateway TOML to build providers from")
    parser.add_argument("--providers", default="", help="comma list of configured names")
    parser.add_argument("--count", type=int, default=FULL_COUNT, help="generated images")
    parser.add_argument("--trimap", type=int, default=0,
                        help="run the trimap experiments on the first N images")
    parser.add_argument("--workers", type=int, default=2, help="processes (1 for rate limits)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--export", type=Path, help="only write the generated pairs here")
    args = parser.parse_args(argv)
    use_numba_cache()
    if args.export:
        for index in range(args.count):
            write_sample(make_sample(index, args.seed), args.export)
        print(f"wrote {args.count} pairs to {args.export}", file=sys.stderr)
        return 0
    names = tuple(n.strip() for n in args.providers.split(",") if n.strip())
    if names and args.config is None:
        parser.error("--providers needs --config")
    spec = ProviderSpec(config_path=str(args.config) if args.config else None, names=names)
    try:
        check_names(spec)  # here, not in the workers: a clear message instead of a broken pool
    except ValueError as exc:
        parser.error(str(exc))
    if args.images:
        paths = find_pairs(args.images)
        if not paths:
            parser.error(f"no NAME.alpha.png pairs in {args.images}")
        tasks = [Task(index=i, path=str(p), trimap=i < args.trimap) for i, p in enumerate(paths)]
        source = f"{len(tasks)} image + alpha pairs from `{args.images}`."
    else:
        tasks = generated_tasks(args.count, args.trimap, args.seed)
        source = f"{len(tasks)} generated composites (seed {args.seed})."
    outcome = evaluate(tasks, spec, max(1, args.workers))
    args.results.mkdir(parents=True, exist_ok=True)
    body = report(outcome, args.results, source)
    path = args.results / "quality-report.md"
    path.write_text(f"# Matte quality\n\n{body}\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
