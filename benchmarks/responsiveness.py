"""Event-loop responsiveness: `GET /health` latency while a 24 MP image is post-processed.

The gateway runs as a real process with only the local provider; one thread posts a 24 MP JPEG
(format=png, the heaviest common path) while another polls `/health` every 20 ms. Pixel work runs
in worker threads, so the loop keeps answering; the report gives the health latencies seen during
the removal and the gateway process's peak RSS (VmHWM).
"""

from __future__ import annotations

import io
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from benchmarks.common import BenchSettings, table

NAME = "responsiveness"
TITLE = "Event loop stays responsive during heavy post-processing"
_CONFIG = """
[server]
log_format = "json"
max_upload_bytes = 52428800
[cache]
enabled = false
[ledger]
path = "{ledger}"
[providers.local]
type = "local"
"""


def _photo(width: int, height: int) -> bytes:
    """A smooth product-style JPEG (object on a gradient), big enough to matter."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[..., 0] = 200 + 40 * yy / height
    rgb[..., 1] = 205 + 30 * xx / width
    rgb[..., 2] = 215
    inside = ((xx - width / 2) / (width / 4)) ** 2 + ((yy - height / 2) / (height / 3)) ** 2 < 1
    rgb[inside] = (160, 40, 30)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(width: int, height: int) -> dict[str, float]:
    """Run one removal of a `width` x `height` JPEG while polling /health; return the figures."""
    from tests.servers import gateway_process

    image = _photo(width, height)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.toml"
        config.write_text(_CONFIG.format(ledger=Path(tmp) / "usage.sqlite3"))
        with gateway_process(config) as (base, process):
            done = threading.Event()
            result: dict[str, float] = {}

            source = Path(tmp) / "big.jpg"
            source.write_bytes(image)

            def remove() -> None:
                # curl in its own process: a Python uploader thread here would compete for
                # this process's GIL and distort the health latencies measured below.
                started = time.perf_counter()
                finished = subprocess.run(
                    ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                     "-F", f"image_file=@{source}", "-F", "format=png",
                     base + "/v1/remove-background"],
                    capture_output=True, text=True, check=False, timeout=600,
                )
                result["status"] = float(finished.stdout or 0)
                result["removal_s"] = time.perf_counter() - started
                done.set()

            worker = threading.Thread(target=remove)
            worker.start()
            latencies: list[float] = []
            with httpx.Client(base_url=base, timeout=10) as client:
                while not done.is_set():
                    started = time.perf_counter()
                    client.get("/health")
                    latencies.append((time.perf_counter() - started) * 1000)
                    time.sleep(0.02)
            worker.join()
            result["peak_rss_mb"] = _peak_rss_mb(process.pid)
    latencies.sort()
    result.update(
        polls=len(latencies),
        health_p50_ms=statistics.median(latencies),
        health_p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        health_max_ms=latencies[-1],
    )
    return result


def run(settings: BenchSettings) -> str:
    """Benchmark section entry point."""
    sizes = [(6000, 4000)] if settings.quick else [(4000, 3000), (6000, 4000)]
    rows = []
    for width, height in sizes:
        figures = measure(width, height)
        rows.append([f"{width * height / 1e6:.0f} MP", int(figures["status"]),
                     figures["removal_s"], int(figures["polls"]), figures["health_p50_ms"],
                     figures["health_p99_ms"], figures["health_max_ms"], figures["peak_rss_mb"]])
    goal = "goal: /health under 50 ms while it runs; 24 MP peak RSS under 1.2 GB"
    return "\n\n".join([
        __doc__.split("\n\n")[1].replace("\n", " "),
        table(["input", "status", "removal s", "health polls", "health p50 ms",
               "health p99 ms", "health max ms", "gateway peak RSS MB"], rows),
        f"_{goal}._",
    ])
