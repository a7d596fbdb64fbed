"""Six concurrent 24 MP requests through a real gateway process: peak RSS and `/health` latency.

    python -m benchmarks.postprocess.concurrent [--budget MP ...] [--out FILE.md]

For each pixel budget (`[server] pixel_budget_mp`; 0 = unbounded) a fresh gateway process
(uvicorn, one worker) serves a vendor that answers a 1024 px proxy mask at once, so all the
cost is the gateway's own post-processing: decode the 24 MP original, apply the upscaled matte,
encode a 24 MP RGBA PNG. Six requests are sent at once while `/health` is polled every 20 ms;
the gateway's peak RSS is its VmHWM. Prints (and with `--out` writes) a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.postprocess.inputs import jpeg_file, proxy_matte_png

CONCURRENT = 6
MEGAPIXELS = 24
PROXY_SIDE = 1024
_SERVER = """
import sys
import uvicorn
from gateway.app import create_app
from gateway.settings import parse_settings
from providers.base import Capabilities, ProviderResult

MATTE = open(sys.argv[3], "rb").read()


class ProxyMask:
    name = "proxy"
    capabilities = Capabilities(output="mask")

    async def remove_background(self, request):
        return ProviderResult(data=MATTE, media_type="image/png", kind="mask", provider="proxy")

    async def aclose(self):
        pass


settings = parse_settings({
    "providers": {"proxy": {"type": "local"}}, "cache": {"enabled": False},
    "ledger": {"path": sys.argv[4]},
    "server": {"pixel_budget_mp": float(sys.argv[2]), "max_upload_bytes": 64 << 20},
})
app = create_app(settings, providers={"proxy": ProxyMask()})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _vm(pid: int, field: str) -> float:
    """VmHWM / VmRSS of `pid` in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _load(base: str, photo: bytes) -> tuple[list[int], list[float], float]:
    """Six removals at once while /health is polled; (statuses, health ms, wall s)."""
    health_ms: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        done = asyncio.Event()

        async def poll() -> None:
            while not done.is_set():
                started = time.perf_counter()
                await client.get("/health")
                health_ms.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.02)

        poller = asyncio.create_task(poll())
        started = time.perf_counter()
        answers = await asyncio.gather(*(
            client.post("/v1/remove-background", files={"image_file": ("p.jpg", photo)})
            for _ in range(CONCURRENT)
        ))
        wall = time.perf_counter() - started
        done.set()
        await poller
    return [a.status_code for a in answers], health_ms, wall


def run(budget_mp: float, photo: bytes, matte: Path, workdir: Path) -> dict[str, object]:
    """One fresh gateway with `budget_mp`: peak RSS, /health latency, statuses, wall time."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port), str(budget_mp), str(matte),
         str(workdir / f"usage-{budget_mp}.sqlite3")],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        idle = _vm(proc.pid, "VmRSS")
        statuses, health_ms, wall = asyncio.run(_load(base, photo))
        peak = _vm(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    ordered = sorted(health_ms)
    return {
        "budget_mp": budget_mp, "statuses": statuses, "idle_mb": round(idle),
        "peak_mb": round(peak), "wall_s": round(wall, 1),
        "health_p50_ms": round(statistics.median(ordered), 1),
        "health_p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "health_max_ms": round(ordered[-1], 1), "health_samples": len(ordered),
    }


def report(rows: list[dict[str, object]]) -> str:
    """A Markdown table of `rows`."""
    lines = [
        f"{CONCURRENT} concurrent {MEGAPIXELS} MP JPEG requests, vendor answers a "
        f"{PROXY_SIDE} px proxy mask (all pixel work is the gateway's), PNG out; one worker.",
        "",
        "| pixel budget | answers | RSS idle MB | peak RSS MB | wall s | /health p50 ms "
        "| /health p99 ms | /health max ms | samples |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        budget = "unbounded" if not r["budget_mp"] else f"{r['budget_mp']:g} MP"
        ok = sum(1 for s in r["statuses"] if s == 200)  # type: ignore[union-attr]
        lines.append(
            f"| {budget} | {ok}/{CONCURRENT} x 200 | {r['idle_mb']} | {r['peak_mb']} | "
            f"{r['wall_s']} | {r['health_p50_ms']} | {r['health_p99_ms']} | "
            f"{r['health_max_ms']} | {r['health_samples']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run every budget and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, action="append",
                        help="pixel budget in MP (repeat; default: 32 and 0 = unbounded)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        photo = jpeg_file(workdir, MEGAPIXELS).read_bytes()
        from PIL import Image

        with Image.open(io.BytesIO(photo)) as image:
            width, height = image.size
        matte = workdir / "matte.png"
        matte.write_bytes(proxy_matte_png(PROXY_SIDE, PROXY_SIDE * height // width))
        rows = [run(budget, photo, matte, workdir) for budget in (args.budget or [32.0, 0.0])]
    table = report(rows)
    print(table)
    if args.out:
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
