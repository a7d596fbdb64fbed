"""Benchmark section: latency and throughput the gateway adds in front of an instant upstream.

The upstream is the BackgroundErase sandbox in instant mode (a ready result, no matte). The
gateway runs as a real `bg-gateway serve` process with only that provider, the cache off and
JSON logs; every option sent (`format=png`) is native, so the answer is passed through with no
pixel work. `wrk` sends the same ~100 KB JPEG multipart body to both.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import msgspec

from benchmarks.common import BenchSettings
from benchmarks.overhead.inputs import CONTENT_TYPE, write_body
from benchmarks.overhead.load import WrkResult, ensure_wrk, run_wrk, write_script
from benchmarks.overhead.profiling import hotspots, py_spy, record
from benchmarks.overhead.report import (
    Pair,
    Scaling,
    goals,
    hotspot_table,
    plot,
    results_table,
    scaling_table,
    timing_check,
)
from benchmarks.overhead.servers import (
    GATEWAY_PATH,
    UPSTREAM_PATH,
    Layout,
    Running,
    cpu_seconds,
    cpu_seconds_tree,
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
REDIS_URL = os.environ.get("BG_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
#: The previous report's figures (before issue 12's request path), for the comparison table.
BEFORE = (
    "| conc. | gateway req/s | gateway CPU ms / request | added p50 ms |\n"
    "|---|---|---|---|\n"
    "| 1 | 160 | 5.09 | 5.75 |\n"
    "| 16 | 221 | 4.49 | 62.17 |\n"
    "| 64 | 248 | 4.02 | 197.07 |"
)


def _check_pass_through(running: Running, body: bytes) -> str:
    """One request through the gateway: it must succeed with nothing emulated."""
    response = httpx.post(running.gateway_urls["gateway"] + GATEWAY_PATH, content=body,
                          headers={"content-type": CONTENT_TYPE}, timeout=30.0)
    if response.status_code != 200 or response.headers.get("x-emulated", "") != "":
        raise RuntimeError(f"gateway answered {response.status_code} with X-Emulated="
                           f"{response.headers.get('x-emulated')!r}: not a pass-through")
    return (f"{response.headers.get('content-type')}, {len(response.content)} bytes, "
            f"X-Provider `{response.headers.get('x-provider')}`, X-Emulated empty")


def _measure(wrk: str, running: Running, workdir: Path, layout: Layout,
             duration_s: float) -> list[Pair]:
    body, script = workdir / "overhead-body.bin", workdir / "overhead.lua"
    gateway_pid = running.gateway_pids["gateway"]
    targets = (
        (running.upstream_url + UPSTREAM_PATH, BACKGROUNDERASE_KEY),
        (running.gateway_urls["gateway"] + GATEWAY_PATH, None),
    )
    pairs: list[Pair] = []
    for connections in CONCURRENCY:
        runs: list[WrkResult] = []
        cpu: list[tuple[float, float]] = []  # (upstream, gateway) CPU ms per request
        for url, key in targets:
            run_wrk(wrk, url, script, body, CONTENT_TYPE, key, connections, WARMUP_S, layout.load)
            before = (cpu_seconds(running.upstream_pid), cpu_seconds(gateway_pid))
            runs.append(run_wrk(wrk, url, script, body, CONTENT_TYPE, key, connections,
                                duration_s, layout.load))
            after = (cpu_seconds(running.upstream_pid), cpu_seconds(gateway_pid))
            served = max(1, runs[-1].requests)
            cpu.append(((after[0] - before[0]) * 1000 / served,
                        (after[1] - before[1]) * 1000 / served))
            print(f"[overhead] c={connections} {url}: {runs[-1].rps:.0f} req/s, p50 "
                  f"{runs[-1].p50_us / 1000:.2f} ms", file=sys.stderr, flush=True)
        pairs.append(Pair(connections, runs[0], runs[1], upstream_cpu_direct_ms=cpu[0][0],
                          upstream_cpu_via_gateway_ms=cpu[1][0], gateway_cpu_ms=cpu[1][1]))
    return pairs


def _scaling(wrk: str, workdir: Path, layout: Layout, duration_s: float) -> Scaling | str:
    """One worker (memory state) against `workers = 2` (Redis state), concurrency 16."""
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:  # no Redis: the row is skipped, not the section
        return f"Skipped: no Redis at {REDIS_URL} ({type(exc).__name__})."
    body, script = workdir / "overhead-body.bin", workdir / "overhead.lua"
    scale = workdir / "scaling"
    dirs = {"one": scale / "one", "two": scale / "two"}
    runs: dict[str, tuple[WrkResult, float]] = {}
    with running_servers(layout, scale, dirs, workers={"two": 2}, redis_url=REDIS_URL) as running:
        for name in dirs:
            url = running.gateway_urls[name] + GATEWAY_PATH
            pid = running.gateway_pids[name]
            run_wrk(wrk, url, script, body, CONTENT_TYPE, None, 16, WARMUP_S, layout.load)
            before = cpu_seconds_tree(pid)
            result = run_wrk(wrk, url, script, body, CONTENT_TYPE, None, 16, duration_s,
                             layout.load)
            cpu_ms = (cpu_seconds_tree(pid) - before) * 1000 / max(1, result.requests)
            runs[name] = (result, cpu_ms)
            print(f"[overhead] workers={name}: {result.rps:.0f} req/s", file=sys.stderr,
                  flush=True)
    return Scaling(one=runs["one"][0], two=runs["two"][0], one_cpu_ms=runs["one"][1],
                   two_cpu_ms=runs["two"][1])


def _profile(wrk: str, running: Running, workdir: Path, results_dir: Path,
             layout: Layout) -> str:
    """py-spy the gateway under concurrency-16 load: a flame graph and the top frames."""
    if py_spy() is None:
        return "Profile skipped: py-spy is not installed (`.venv/bin/pip install py-spy`)."
    body, script = workdir / "overhead-body.bin", workdir / "overhead.lua"
    url = running.gateway_urls["gateway"] + GATEWAY_PATH
    raw = workdir / "profile.txt"
    svg = results_dir / "overhead-profile.svg"
    for output, output_format in ((raw, "raw"), (svg, "flamegraph")):
        sampler = record(running.gateway_pids["gateway"], PROFILE_S, output, output_format)
        time.sleep(0.3)
        run_wrk(wrk, url, script, body, CONTENT_TYPE, None, 16, PROFILE_S + 1, layout.load)
        _, errors = sampler.communicate(timeout=60)
        if sampler.returncode != 0 or not output.exists():
            return f"Profile failed (py-spy exit {sampler.returncode}): {errors[-300:]!r}"
    own, inclusive, busy = hotspots(raw, top=400)
    return (f"py-spy, {PROFILE_S} s at concurrency 16 (sampling slows the gateway a little). "
            f"Flame graph: [overhead-profile.svg](overhead-profile.svg).\n\n"
            + hotspot_table(own[:12], inclusive, busy))


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
    load = os.getloadavg()[0]
    # Logs, the ledger and the request body are scratch: nothing of it belongs in the results.
    with tempfile.TemporaryDirectory(prefix="bg-overhead-") as scratch:
        workdir = Path(scratch)
        body_path, jpeg_bytes, (width, height) = write_body(workdir, settings.seed)
        write_script(workdir)
        with running_servers(layout, workdir, {"gateway": workdir / "ledger"}) as running:
            checked = _check_pass_through(running, body_path.read_bytes())
            pairs = _measure(wrk, running, workdir, layout, duration_s)
            sample = sample_server_timing(running.gateway_urls["gateway"] + GATEWAY_PATH,
                                          body_path, 100 if settings.quick else 300)
            profile = _profile(wrk, running, workdir, settings.results_dir, layout)
        scaling = _scaling(wrk, workdir, layout, duration_s)
    plot(settings.results_dir / "overhead-latency.png", pairs)
    (settings.results_dir / "overhead.json").write_bytes(msgspec.json.format(
        msgspec.json.encode({"pairs": pairs, "server_timing": sample,
                             "scaling": scaling if isinstance(scaling, Scaling) else None}),
        indent=2))
    report = "\n\n".join([
        __doc__.split("\n\n", 1)[1].strip(),
        f"Input: one {jpeg_bytes / 1024:.0f} KB JPEG ({width}x{height}), generated once "
        f"(seed {settings.seed}), sent as multipart `image_file` with `format=png`. Gateway "
        f"answer: {checked}. wrk: 1 thread, keep-alive, {WARMUP_S:g} s warm-up then "
        f"{duration_s:g} s per run. {_server_stack()}. The gateway writes its usage ledger "
        "(SQLite, on disk) and one JSON log line per request.",
        f"**Machine:** gateway, upstream and wrk share this 2-CPU machine; {layout.describe()}. "
        "The gateway therefore has one core for its event loop and its worker threads. Load "
        f"average when the section started: {load:.1f} (anything above ~0.5 is other work "
        "competing for the same two cores, which makes every number here worse and noisier). "
        "CPU per request is the process's user+system time over the run divided by the "
        "requests served; it is less sensitive to that competition than latency, so it is "
        "the figure to compare between runs.",
        results_table(pairs),
        "![latency percentiles](overhead-latency.png)",
        "### Before issue 12 (previous report, load average 1.6)\n\n" + BEFORE,
        "### Two workers on Redis state\n\n" + (
            scaling if isinstance(scaling, str) else
            "Concurrency 16, same body. One worker is pinned to one core as above; the two "
            "workers are not pinned (the upstream and wrk share the two cores with them, so "
            "1.7x needs the gateway to be most of the machine's work).\n\n"
            + scaling_table(scaling)),
        "### Goals (issue 12)\n\n" + goals(pairs, scaling if isinstance(scaling, Scaling)
                                          else None),
        "LiteLLM publishes 3 / 17 / 31 ms p50/p90/p99 of added latency on 2 vCPU.",
        "### Server-Timing against the measured difference\n\n" + timing_check(sample, pairs),
        "### Profile\n\n" + profile,
    ])
    (settings.results_dir / "overhead.md").write_text(
        f"# {TITLE}\n\n{report}\n", encoding="utf-8")
    return report
