"""Benchmark section: latency and throughput the gateway adds in front of an instant upstream.

The upstream is the BackgroundErase sandbox in instant mode (a ready result, no matte). The
gateway runs as a real `bg-gateway serve` process with only that provider, the cache off and
JSON logs; every option sent (`format=png`) is native, so the answer is passed through with no
pixel work. `wrk` sends the same ~100 KB JPEG multipart body to both.
"""

from __future__ import annotations

import importlib.util
import sys
import time

import httpx
import msgspec

from benchmarks.common import BenchSettings
from benchmarks.overhead.inputs import CONTENT_TYPE, write_body
from benchmarks.overhead.load import WrkResult, ensure_wrk, run_wrk, write_script
from benchmarks.overhead.profiling import hotspots, py_spy, record
from benchmarks.overhead.report import Pair, goals, hotspot_table, plot, results_table, timing_check
from benchmarks.overhead.servers import (
    GATEWAY_PATH,
    UPSTREAM_PATH,
    Layout,
    Running,
    default_layout,
    running_servers,
)
from benchmarks.overhead.timing import sample_server_timing
from sandbox.options import BACKGROUNDERASE_KEY

NAME = "overhead"
TITLE = "Gateway overhead against an instant upstream"
CONCURRENCY = (1, 16, 64)
WARMUP_S = 1.0
PROFILE_S = 5


def _check_pass_through(running: Running, body: bytes) -> str:
    """One request through the gateway: it must succeed with nothing emulated."""
    response = httpx.post(running.gateway_urls["gateway"] + GATEWAY_PATH, content=body,
                          headers={"content-type": CONTENT_TYPE}, timeout=30.0)
    if response.status_code != 200 or response.headers.get("x-emulated", "") != "":
        raise RuntimeError(f"gateway answered {response.status_code} with X-Emulated="
                           f"{response.headers.get('x-emulated')!r}: not a pass-through")
    return (f"{response.headers.get('content-type')}, {len(response.content)} bytes, "
            f"X-Provider `{response.headers.get('x-provider')}`, X-Emulated empty")


def _measure(wrk: str, running: Running, settings: BenchSettings, layout: Layout,
             duration_s: float) -> list[Pair]:
    workdir = settings.data_dir / "overhead"
    body, script = workdir / "overhead-body.bin", workdir / "overhead.lua"
    targets = (
        (running.upstream_url + UPSTREAM_PATH, BACKGROUNDERASE_KEY),
        (running.gateway_urls["gateway"] + GATEWAY_PATH, None),
    )
    pairs: list[Pair] = []
    for connections in CONCURRENCY:
        runs: list[WrkResult] = []
        for url, key in targets:
            run_wrk(wrk, url, script, body, CONTENT_TYPE, key, connections, WARMUP_S, layout.load)
            runs.append(run_wrk(wrk, url, script, body, CONTENT_TYPE, key, connections,
                                duration_s, layout.load))
            print(f"[overhead] c={connections} {url}: {runs[-1].rps:.0f} req/s, p50 "
                  f"{runs[-1].p50_us / 1000:.2f} ms", file=sys.stderr, flush=True)
        pairs.append(Pair(connections, runs[0], runs[1]))
    return pairs


def _profile(wrk: str, running: Running, settings: BenchSettings, layout: Layout) -> str:
    """py-spy the gateway under concurrency-16 load: a flame graph and the top frames."""
    if py_spy() is None:
        return "Profile skipped: py-spy is not installed (`.venv/bin/pip install py-spy`)."
    workdir = settings.data_dir / "overhead"
    body, script = workdir / "overhead-body.bin", workdir / "overhead.lua"
    url = running.gateway_urls["gateway"] + GATEWAY_PATH
    raw = workdir / "profile.txt"
    svg = settings.results_dir / "overhead-profile.svg"
    for output, output_format in ((raw, "raw"), (svg, "flamegraph")):
        sampler = record(running.gateway_pids["gateway"], PROFILE_S, output, output_format)
        time.sleep(0.3)
        run_wrk(wrk, url, script, body, CONTENT_TYPE, None, 16, PROFILE_S + 1, layout.load)
        _, errors = sampler.communicate(timeout=60)
        if sampler.returncode != 0 or not output.exists():
            return f"Profile failed (py-spy exit {sampler.returncode}): {errors[-300:]!r}"
    own, inclusive, busy = hotspots(raw, top=12)
    return (f"py-spy, {PROFILE_S} s at concurrency 16 (sampling slows the gateway a little). "
            f"Flame graph: [overhead-profile.svg](overhead-profile.svg).\n\n"
            + hotspot_table(own, inclusive, busy))


def _server_stack() -> str:
    http = "httptools" if importlib.util.find_spec("httptools") else "h11 (pure Python)"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"uvicorn with {http} HTTP parsing and the {loop} event loop, for both servers"


def run(settings: BenchSettings) -> str:
    """Run the section; write `overhead.md`, `overhead.json` and `overhead-latency.png`."""
    wrk = ensure_wrk()
    if wrk is None:
        return ("**Skipped:** `wrk` is not installed and `apt-get install wrk` failed "
                "(needs root and Debian's package index).")
    duration_s = 3.0 if settings.quick else 6.0
    layout = default_layout()
    workdir = settings.data_dir / "overhead"
    body_path, jpeg_bytes, (width, height) = write_body(workdir, settings.seed)
    write_script(workdir)
    with running_servers(layout, workdir, {"gateway": workdir / "ledger"}) as running:
        checked = _check_pass_through(running, body_path.read_bytes())
        pairs = _measure(wrk, running, settings, layout, duration_s)
        sample = sample_server_timing(running.gateway_urls["gateway"] + GATEWAY_PATH,
                                      body_path, 100 if settings.quick else 300)
        profile = _profile(wrk, running, settings, layout)
    plot(settings.results_dir / "overhead-latency.png", pairs)
    (settings.results_dir / "overhead.json").write_bytes(msgspec.json.format(
        msgspec.json.encode({"pairs": pairs, "server_timing": sample}), indent=2))
    report = "\n\n".join([
        __doc__.split("\n\n", 1)[1].strip(),
        f"Input: one {jpeg_bytes / 1024:.0f} KB JPEG ({width}x{height}), generated once "
        f"(seed {settings.seed}), sent as multipart `image_file` with `format=png`. Gateway "
        f"answer: {checked}. wrk: 1 thread, keep-alive, {WARMUP_S:g} s warm-up then "
        f"{duration_s:g} s per run. {_server_stack()}. The gateway writes its usage ledger "
        "(SQLite, on disk) and one JSON log line per request.",
        f"**Machine:** gateway, upstream and wrk share this 2-CPU machine; {layout.describe()}. "
        "The gateway therefore has one core for its event loop and its worker threads.",
        results_table(pairs),
        "![latency percentiles](overhead-latency.png)",
        "### Goals\n\n" + goals(pairs),
        "LiteLLM publishes 3 / 17 / 31 ms p50/p90/p99 of added latency on 2 vCPU.",
        "### Server-Timing against the measured difference\n\n" + timing_check(sample, pairs),
        "### Profile\n\n" + profile,
    ])
    (settings.results_dir / "overhead.md").write_text(
        f"# {TITLE}\n\n{report}\n", encoding="utf-8")
    return report
