"""Benchmark section: full-resolution-master flow against its Pillow floor, and peak memory."""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from benchmarks.common import BenchSettings, table
from benchmarks.plots import stacked_bars
from benchmarks.postprocess.flow import FORMATS, STEPS, FlowTiming, mask_result, measure, run_flow
from benchmarks.postprocess.inputs import SIZES, jpeg_file, proxy_matte_png

NAME = "postprocess"
TITLE = "Post-processing: full-resolution flow against its floor, and peak memory"
FLOW_SIZES = (1, 12, 24)
MEMORY_SIZES = (12, 24, 50)
RATIO_GOAL = 1.5
MEMORY_GOAL_MB = 1536
REPEATS = {1: 5, 12: 3, 24: 2}
QUICK_REPEATS = {1: 3, 12: 1, 24: 1}
_REPO = Path(__file__).resolve().parent.parent.parent


def _flow_tables(timings: list[FlowTiming]) -> str:
    header = ["MP", "format", "flow CPU s", "floor CPU s (decode + encode)", "flow / floor",
              "goal", "wall s: flow / floor"]
    rows = []
    for t in timings:
        goal = ""
        if t.format == "png":
            goal = "met" if t.ratio <= RATIO_GOAL else f"**missed** (> {RATIO_GOAL}x)"
        rows.append([t.megapixels, t.format, t.flow_s,
                     f"{t.floor_s:.3f} ({t.floor_decode_s:.3f} + {t.floor_encode_s:.3f})",
                     f"{t.ratio:.2f}x", goal,
                     f"{t.flow_wall_s:.3f} / {t.floor_wall_s:.3f} "
                     f"({t.flow_wall_s / t.floor_wall_s:.2f}x)"])
    steps = [*STEPS, "other"]
    step_rows = [[t.megapixels, t.format, *(f"{t.steps_s.get(s, 0.0):.3f} "
                                            f"({t.steps_s.get(s, 0.0) / t.floor_s:.2f})"
                                            for s in steps)] for t in timings]
    return "\n\n".join([
        table(header, rows),
        "Per step, CPU seconds (and as a multiple of the floor), from a cProfile of one more "
        "run per repeat (median):",
        table(["MP", "format", *steps], step_rows),
    ])


def _flow_plot(timings: list[FlowTiming], directory: Path) -> Path:
    png = [t for t in timings if t.format == "png"]
    bars: list[str] = []
    layers: dict[str, list[float]] = {name: [] for name in (*STEPS, "other", "floor decode",
                                                              "floor encode")}
    for t in png:
        for kind in ("flow", "floor"):
            bars.append(f"{t.megapixels} MP {kind}")
            for name in layers:
                if kind == "flow":
                    value = t.steps_s.get(name, 0.0) if not name.startswith("floor") else 0.0
                else:
                    value = {"floor decode": t.floor_decode_s,
                             "floor encode": t.floor_encode_s}.get(name, 0.0)
                layers[name].append(value)
    layers = {k: v for k, v in layers.items() if any(v)}
    return stacked_bars(directory / "postprocess-flow.png",
                        "PNG output: flow steps against Pillow decode + encode", bars, layers,
                        "CPU seconds (median)")


def _profile(path: Path, output_format: str, top: int = 14) -> str:
    """cProfile top entries (cumulative) of one flow run."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        result = mask_result(image.width, image.height, proxy_matte_png)
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(run_flow, data, result, output_format)  # type: ignore[arg-type]
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "```\n" + "\n".join(lines[start:]) + "\n```"


def _memory_run(path: Path, flow: bool) -> dict[str, object]:
    command = [sys.executable, "-m", "benchmarks.postprocess.memory", str(path), "--format", "png"]
    if flow:
        command.append("--flow")
    done = subprocess.run(command, cwd=_REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _memory_section(data_dir: Path, seed: int) -> tuple[str, bool]:
    rows, ok = [], True
    largest: dict[str, object] = {}
    for megapixels in MEMORY_SIZES:
        path = jpeg_file(data_dir, megapixels, seed)
        for flow in (False, True) if megapixels == MEMORY_SIZES[-1] else (False,):
            result = _memory_run(path, flow)
            delta = float(result["delta_mb"])  # type: ignore[arg-type]
            met = delta < MEMORY_GOAL_MB
            ok &= met or flow
            goal = ("met" if met else "**missed**") if not flow else "(extra: whole flow)"
            rows.append([megapixels, "validate + proxy + postprocess" if flow else "postprocess",
                         f"{delta:.0f}", f"{result['peak_mb']:.0f}",
                         f"{result['baseline_mb']:.0f}", result["seconds"], goal])
            if megapixels == MEMORY_SIZES[-1] and not flow:
                largest = result
    header = ["MP", "work", "peak − baseline MB", "peak MB", "baseline MB", "s", "goal"]
    by_function = largest.get("by_function_mb", {})
    function_rows = [[f"`{name}`", f"{mb:.0f}"]
                     for name, mb in list(by_function.items())[:8]]  # type: ignore[union-attr]
    text = "\n\n".join([
        "Each row is a fresh process: its peak RSS after imports is the baseline, then the JPEG "
        "is read and `gateway.postprocess.postprocess` runs on a 1024 px mask answer "
        f"(PNG out). Goal: {MEMORY_SIZES[-1]} MP under {MEMORY_GOAL_MB} MB. Peak RSS is the "
        "process's VmHWM, not `ru_maxrss`: Linux carries `ru_maxrss` over fork + exec, so a "
        "child of the (larger) benchmark process would report the parent's peak.",
        table(header, rows),
        f"RSS high-water above the baseline while each function was innermost "
        f"({MEMORY_SIZES[-1]} MP, postprocess only; 2 ms sampling):",
        table(["function", "MB"], function_rows),
    ])
    return text, ok


def run(settings: BenchSettings) -> str:
    """Time the flow and its floor, measure peak memory; return the Markdown section."""
    data_dir = settings.data_dir / "postprocess"
    repeats = QUICK_REPEATS if settings.quick else REPEATS
    paths = {mp: jpeg_file(data_dir, mp, settings.seed) for mp in (*FLOW_SIZES, *MEMORY_SIZES)}
    measure(paths[1], 1, "png", 1, proxy_matte_png)  # warm-up: imports, first-call costs
    timings = [measure(paths[mp], mp, fmt, repeats[mp], proxy_matte_png)
               for mp in FLOW_SIZES for fmt in FORMATS]
    plot = _flow_plot(timings, settings.results_dir)
    sizes = ", ".join(f"{mp} MP = {SIZES[mp][0]}x{SIZES[mp][1]}" for mp in FLOW_SIZES)
    parts = [
        f"Generated photo-like JPEGs (q90; {sizes}). **Flow** = `inspect_image` (validation) + "
        "`providers.withoutbg.prepare_upload` (decode, 1024 px Lanczos proxy, JPEG q92) + "
        "`gateway.postprocess.postprocess` on a 1024 px PNG mask answer (decode, matte decode + "
        "bicubic upscale, apply, encode). **Floor** = Pillow decode + encode of the same image "
        "alone (RGB, through the gateway's own Pillow save call). Medians of "
        + ", ".join(f"{repeats[mp]} ({mp} MP)" for mp in FLOW_SIZES)
        + " interleaved repeats. Ratios use CPU time of the benchmark process (the machine "
        "is shared, so wall time includes waiting for a core; wall is shown for reference). "
        f"Goal: PNG flow ≤ {RATIO_GOAL}x the floor.",
        _flow_tables(timings),
        f"![flow]({plot.name})",
    ]
    missed = [t for t in timings if t.format == "png" and t.ratio > RATIO_GOAL]
    if missed:
        worst = max(missed, key=lambda t: t.megapixels)
        excess = worst.flow_s - worst.floor_s
        ranked = sorted(((s, v) for s, v in worst.steps_s.items()), key=lambda kv: -kv[1])[:4]
        parts += [
            f"**Goal missed** for PNG at {', '.join(f'{t.megapixels} MP' for t in missed)}. "
            f"At {worst.megapixels} MP the flow spends {excess:.2f} s more than the floor; its "
            "largest steps: " + ", ".join(f"{s} {v:.2f} s" for s, v in ranked) + ". "
            f"cProfile of one {worst.megapixels} MP PNG flow (top entries by cumulative time):",
            _profile(paths[worst.megapixels], "png"),
        ]
    memory_text, memory_ok = _memory_section(data_dir, settings.seed)
    parts += ["### Peak memory per request", memory_text]
    if not memory_ok:
        parts.append("**Memory goal missed** (see the per-function high-water marks above).")
    return "\n\n".join(parts)
