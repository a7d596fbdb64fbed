"""Measure post-processing: peak RSS for a 24 MP JPEG -> PNG, and seconds per step at 12 MP.

Run: `.venv/bin/python -m tests.postprocess.measure_pipeline` (not a unit test: it takes ~a minute).
Inputs are made and every measurement runs in its own subprocess: Linux carries the parent's
`ru_maxrss` into a forked child, so the parent must stay small for the child's peak to be its own.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image

from providers.base import Margin, OutputOptions, ProviderResult

T = TypeVar("T")
SCENARIOS: dict[str, OutputOptions] = {
    "png": OutputOptions(),
    "despill+crop+webp": OutputOptions(format="webp", crop=True, crop_margin=Margin(5, "%"),
                                       despill=True),
    "jpg+bg+medium": OutputOptions(format="jpg", bg_color=(240, 240, 240, 255), size="medium"),
    "alpha png": OutputOptions(channels="alpha"),
}


def make_inputs(width: int, height: int, folder: Path) -> tuple[Path, Path]:
    """A textured JPEG photo and a full-resolution soft-edged L mask PNG."""
    rng = np.random.default_rng(7)
    noise = rng.random((height // 16, width // 16, 3)).astype(np.float32)
    rgb = (cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC) * 200 + 20)
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    del noise
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (width // 2, height // 2), (width // 3, height // 3), 0, 0, 360, 255, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)
    photo, matte = folder / "photo.jpg", folder / "mask.png"
    Image.fromarray(rgb).save(photo, quality=90)
    Image.fromarray(mask).save(matte, compress_level=1)
    proxy = Image.fromarray(mask)
    proxy.thumbnail((1024, 1024))
    proxy.save(folder / "mask-proxy.png")
    return photo, matte


def _child(photo: str, matte: str, scenario: str, per_step: bool) -> None:
    from gateway.postprocess import pipeline

    original, mask = Path(photo).read_bytes(), Path(matte).read_bytes()
    result = ProviderResult(data=mask, media_type="image/png", kind="mask", provider="bench")
    options = SCENARIOS[scenario]
    job = pipeline.PostprocessJob(options=options, emulate=options.requested(),
                                  max_pixels=50_000_000, deadline=time.monotonic() + 600)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    timings: dict[str, tuple[float, float]] = {}

    def timed(name: str, call: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        value = call()
        timings[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return value

    start = time.perf_counter()
    if per_step:
        frame, orientation = timed(
            "decode", lambda: pipeline._decode_original(
            original, job.max_pixels, options.channels == "rgba"))
        size = (frame.width, frame.height)
        matte_array = timed("decode_matte", lambda: pipeline._decode_matte(
            result, orientation, size, job.max_pixels))
        for step in pipeline.build_steps(job, matte_array, None):
            frame = timed(step.name, partial(step.run, frame))
        data = timed("encode", lambda: pipeline.encode(frame, options.format, options.channels))
        size = len(data)
    else:
        size = len(pipeline.postprocess(original, result, job).data)
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rss_before_mb": before / 1024, "peak_rss_mb": peak / 1024,
                      "total_s": total, "steps_s": timings, "output_bytes": size}))


def _run(photo: Path, matte: Path, scenario: str, per_step: bool) -> dict[str, object]:
    command = [sys.executable, "-m", "tests.postprocess.measure_pipeline", "--child",
               str(photo), str(matte), scenario, "1" if per_step else "0"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    """Print peak RSS at 24 MP and per-step seconds at 12 MP for each scenario."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, (width, height), per_step in (("24 MP", (6000, 4000), False),
                                                 ("12 MP", (4240, 2830), True)):
            photo, matte = folder / "photo.jpg", folder / "mask.png"
            subprocess.run([sys.executable, "-m", "tests.postprocess.measure_pipeline", "--make",
                            str(width), str(height), tmp], check=True)
            megabytes = photo.stat().st_size / 1e6
            print(f"== {label}: {width}x{height}, JPEG {megabytes:.1f} MB (steps: wall/cpu s)")
            runs = [(name, matte) for name in SCENARIOS]
            runs.append(("png", folder / "mask-proxy.png"))
            for scenario, mask in runs:
                report = _run(photo, mask, scenario, per_step)
                scenario += " (1024px mask)" if mask.name == "mask-proxy.png" else ""
                steps = ", ".join(f"{k} {wall:.2f}/{cpu:.2f}"
                                  for k, (wall, cpu) in report["steps_s"].items())
                print(f"{scenario:30s} peak {report['peak_rss_mb']:.0f} MB "
                      f"(before {report['rss_before_mb']:.0f} MB), total {report['total_s']:.2f} s"
                      + (f" | {steps}" if steps else ""))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1")
    elif len(sys.argv) > 1 and sys.argv[1] == "--make":
        make_inputs(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
