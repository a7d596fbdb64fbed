"""Peak RSS of one request's post-processing, measured in a fresh process (run as a module).

    python -m benchmarks.postprocess.memory IMAGE [--format png] [--flow]

Imports everything and builds the vendor-like mask answer first, then takes the peak RSS
(VmHWM; `ru_maxrss` where there is no /proc) as the baseline, reads the image and runs
`gateway.postprocess.postprocess` (with `--flow` also the upload validation and the 1024 px
proxy before it). Prints one JSON object: baseline, peak and delta in MB, and the RSS
high-water mark seen while each gateway/providers function was innermost on the stack (a 2 ms
sampling thread; the peak itself is the kernel's).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from benchmarks.postprocess.flow import job_for, mask_result, request_for
from benchmarks.postprocess.inputs import proxy_matte_png
from gateway.postprocess import postprocess
from providers.base import OutputFormat
from providers.withoutbg import prepare_upload
from providers.withoutbg_config import WithoutBGConfig

_MB = 1024 * 1024
_OWN_CODE = ("/gateway/", "/providers/")


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _maxrss_bytes() -> int:
    """This process's peak RSS: VmHWM, else `ru_maxrss`.

    `ru_maxrss` survives fork + exec, so a child of a large parent reports the parent's peak
    until it exceeds it; VmHWM belongs to the new address space and starts fresh at exec.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


class StackSampler(threading.Thread):
    """Records the highest RSS seen while each of our functions was the innermost one running."""

    def __init__(self, target_thread: int, interval_s: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.target_thread = target_thread
        self.interval_s = interval_s
        self.high_water: dict[str, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        """Sample until stopped."""
        while not self._halt.is_set():
            frame = sys._current_frames().get(self.target_thread)
            while frame is not None and not any(p in frame.f_code.co_filename for p in _OWN_CODE):
                frame = frame.f_back
            if frame is not None:
                path = frame.f_code.co_filename.replace("\\", "/")
                module = path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]
                label = f"{module}:{frame.f_code.co_name}"
                rss = _rss_bytes()
                if rss > self.high_water.get(label, 0):
                    self.high_water[label] = rss
            time.sleep(self.interval_s)

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._halt.set()
        self.join()


def measure(image_path: Path, output_format: OutputFormat, flow: bool) -> dict[str, object]:
    """Run one request's work and return the memory figures."""
    with Image.open(image_path) as image:  # header only: nothing large before the baseline
        result = mask_result(image.width, image.height, proxy_matte_png)
    job = job_for(output_format)
    baseline = _maxrss_bytes()
    sampler = StackSampler(threading.get_ident())
    sampler.start()
    started = time.perf_counter()
    data = image_path.read_bytes()
    if flow:
        prepare_upload(request_for(data), WithoutBGConfig(), "bench")
    processed = postprocess(data, result, job)
    seconds = time.perf_counter() - started
    sampler.stop()
    peak = _maxrss_bytes()
    return {
        "width": processed.width, "height": processed.height, "seconds": round(seconds, 3),
        "baseline_mb": round(baseline / _MB, 1), "peak_mb": round(peak / _MB, 1),
        "delta_mb": round((peak - baseline) / _MB, 1),
        "by_function_mb": {k: round((v - baseline) / _MB, 1) for k, v in
                           sorted(sampler.high_water.items(), key=lambda kv: -kv[1])},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: print the JSON result."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.postprocess.memory")
    parser.add_argument("image", type=Path)
    parser.add_argument("--format", default="png", choices=("png", "webp", "jpg"))
    parser.add_argument("--flow", action="store_true", help="validate and build the proxy too")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.image, args.format, args.flow)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
