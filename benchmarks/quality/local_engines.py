"""The local engines' part of the quality section: refinement experiment, speed and memory.

    python -m benchmarks.quality.local_engines [--quick]   # writes results/local-engines.md
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from benchmarks.common import RESULTS_DIR
from benchmarks.quality import refinement, speed
from providers.local.refine import DEFAULT_EPS, RADIUS_FACTOR


def markdown(quick: bool = False, seed: int = 0) -> str:
    """Both tables with the text that explains them."""
    count, repeats = (4, 1) if quick else (12, 3)
    return "\n\n".join([
        "### Local engines: edge refinement at full resolution",
        f"{count} composites (about 1 MP); the true alpha degraded like a model's output "
        "(area-downscaled so the long side is the model side, Gaussian σ = 1 model pixel, "
        "8-bit), then upscaled back bicubically, or bicubically + guided-filter refinement "
        f"(colour guide, radius {RADIUS_FACTOR} upscaled pixels, eps {DEFAULT_EPS:g}, only "
        "where the matte is soft). Scored in the edge band: pixels within two model pixels of "
        "a partial true alpha, plus every pixel the refinement changed. SAD /1000, gradient "
        "error ×100/1000; lower is better. A 320 px side is a 3.8× upscale (a 1024 px model "
        "on a 12 MP photo); 100 px is 12× (a 320 px model on 12 MP).",
        refinement.report(refinement.run(count, seed)),
        "### Local engines: seconds per image and peak RSS",
        "Each row in a fresh process: `LocalProvider.remove_background` on a PNG (decode, "
        "matte, refinement for ONNX, PNG encode of the mask), after one warm-up call; peak "
        "RSS includes the interpreter and libraries. The classic engine answers at its "
        "working resolution (post-processing upscales); ONNX answers at full resolution. "
        f"`{speed.SYNTHETIC}` is a random 5-convolution graph with the ISNet interface: it "
        "times the code around a model, not a real model's inference. The machine is shared "
        "(2 cores, other jobs running): treat times as rough.",
        speed.run(repeats),
    ])


def main(argv: Sequence[str] | None = None) -> int:
    """Write `results/local-engines.md`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality.local_engines",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    body = markdown(args.quick)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "local-engines.md"
    path.write_text(f"# Local engines\n\n{body}\n", encoding="utf-8")
    print(body)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
