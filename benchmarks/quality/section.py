"""Benchmark section: matte quality of providers on composites with exactly known alpha."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.common import NUMBA_CACHE_DIR, BenchSettings, table
from benchmarks.plots import bar_chart
from benchmarks.quality import local_engines
from benchmarks.quality.dataset import TRIMAP_RADIUS
from benchmarks.quality.evaluate import (
    TRUE_ALPHA,
    Outcome,
    ProviderSpec,
    Task,
    check_names,
    init_worker,
    run_task,
)
from benchmarks.quality.generate import BACKGROUNDS, SIZES, make_sample
from benchmarks.quality.score import MATTE_COLUMNS, Row, backgrounds, means, write_csv

NAME = "quality"
TITLE = "Matte quality on composites with known alpha"
FULL_COUNT, FULL_TRIMAP = 48, 8
QUICK_COUNT, QUICK_TRIMAP = 12, 4


def generated_tasks(count: int, trimap_count: int, seed: int) -> list[Task]:
    """Tasks for the first `count` generated samples; the first `trimap_count` also get trimaps."""
    return [Task(index=i, seed=seed, trimap=i < trimap_count) for i in range(count)]


def evaluate(tasks: Sequence[Task], spec: ProviderSpec, workers: int) -> Outcome:
    """Run `tasks` on `workers` processes (trimap tasks first: they take longest)."""
    ordered = sorted(tasks, key=lambda t: not t.trimap)
    rows: list[Row] = []
    failures: list[str] = []
    # spawn, not fork: the parent may hold threads (cv2, numba) and an event loop.
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker, initargs=(spec, str(NUMBA_CACHE_DIR)),
    ) as pool:
        for done, outcome in enumerate(pool.map(run_task, ordered), start=1):
            rows += outcome.rows
            failures += outcome.failures
            print(f"[quality] {done}/{len(ordered)}", file=sys.stderr, end="\r", flush=True)
    print(file=sys.stderr)
    rows.sort(key=lambda r: (r.sample, r.method))
    return Outcome(rows=rows, failures=failures)


def _matte_table(rows: Sequence[Row], method: str) -> str:
    kinds = backgrounds([r for r in rows if r.method == method])
    columns = [(label, means(rows, method, attr)) for label, attr in MATTE_COLUMNS]
    share_pred = means(rows, method, "partial_share_pred")
    share_true = means(rows, method, "partial_share_true")
    seconds = means(rows, method, "seconds")
    counts = {k: sum(1 for r in rows if r.method == method and (k in ("all", r.background)))
              for k in kinds}
    header = ["background", "n", *(label for label, _ in columns),
              "partial px pred / true", "provider s"]
    body = [[kind, counts[kind], *(values[kind] for _, values in columns),
             f"{share_pred[kind]:.2%} / {share_true[kind]:.2%}", seconds[kind]] for kind in kinds]
    return table(header, body)


def _band_table(rows: Sequence[Row], name: str) -> str:
    clamp, solved = f"{name}+clamp", f"{name}+trimap"
    band_rows = [r for r in rows if r.method in (clamp, solved)]
    kinds = backgrounds(band_rows)
    header = ["background", "n"]
    samples = {k: {r.sample for r in band_rows if k in ("all", r.background)} for k in kinds}
    body: list[list[object]] = [[k, len(samples[k])] for k in kinds]
    nan = float("nan")
    for label, attr in MATTE_COLUMNS[:4]:
        header += [f"{label} clamp", f"{label} provider trimap"]
        clamp_means, solved_means = means(rows, clamp, attr), means(rows, solved, attr)
        for row, kind in zip(body, kinds, strict=True):
            row += [clamp_means.get(kind, nan), solved_means.get(kind, nan)]
    header.append("provider trimap s")
    seconds = means(rows, solved, "seconds")
    for row, kind in zip(body, kinds, strict=True):
        row.append(seconds.get(kind, float("nan")))
    return table(header, body)


def _despill_table(rows: Sequence[Row], name: str) -> str:
    off, on = name, f"{name}+despill"
    kinds = backgrounds([r for r in rows if r.method == off])
    series = [means(rows, off, "fg_error"), means(rows, on, "fg_error"),
              means(rows, off, "fg_error_edge"), means(rows, on, "fg_error_edge")]
    header = ["background", "fg err (α>0) off", "on", "fg err (0<α<1) off", "on"]
    return table(header, [[kind, *(s[kind] for s in series)] for kind in kinds])


def _plots(rows: Sequence[Row], name: str, directory: Path) -> list[Path]:
    kinds = backgrounds([r for r in rows if r.method == name])
    paths: list[Path] = []
    if any(r.method == name for r in rows):
        paths.append(bar_chart(
        directory / f"quality-{name}-sad.png",
        f"{name}: whole-image SAD and connectivity error /1000",
        kinds, {"SAD/1000": [means(rows, name, "sad")[k] for k in kinds],
                "Conn/1000": [means(rows, name, "connectivity")[k] for k in kinds]}, "error",
        ))
    clamp = means(rows, f"{name}+clamp", "sad")
    solved = means(rows, f"{name}+trimap", "sad")
    if clamp or solved:
        band_kinds = backgrounds([r for r in rows if r.method in (f"{name}+clamp",
                                                                   f"{name}+trimap")])
        series = {}
        if clamp:
            series["clamp the coarse matte"] = [clamp.get(k, float("nan")) for k in band_kinds]
        if solved:
            series["provider given the trimap"] = [solved.get(k, float("nan"))
                                                   for k in band_kinds]
        paths.append(bar_chart(directory / f"quality-{name}-trimap.png",
                               f"{name}: SAD/1000 in the trimap band", band_kinds, series,
                               "SAD/1000"))
    if not kinds[:-1]:
        return paths
    off, on = means(rows, name, "fg_error_edge"), means(rows, f"{name}+despill", "fg_error_edge")
    paths.append(bar_chart(
        directory / f"quality-{name}-despill.png",
        f"{name}: foreground colour error on edge pixels (0<α<1)", kinds,
        {"despill off": [off[k] for k in kinds], "despill on": [on[k] for k in kinds]},
        "mean abs error (8-bit levels)",
    ))
    return paths


def _sample_sheet(path: Path, seed: int) -> Path:
    """A contact sheet of one composite per background and its true alpha."""
    import cv2

    tiles = []
    for index in range(len(BACKGROUNDS)):
        sample = make_sample(index, seed)
        image = cv2.resize(sample.image, (360, 250), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(sample.alpha, (360, 250), interpolation=cv2.INTER_AREA)
        tiles.append(np.vstack([image, np.dstack([np.uint8(alpha * 255 + 0.5)] * 3)]))
    cv2.imwrite(str(path), cv2.cvtColor(np.hstack(tiles), cv2.COLOR_RGB2BGR))
    return path


def report(outcome: Outcome, directory: Path, intro: str) -> str:
    """Markdown tables and plots for every provider found in `outcome`."""
    rows = outcome.rows
    csv_path = write_csv(rows, directory / "quality.csv")
    parts = [intro, f"Per-image rows: `{csv_path.name}`."]
    names = [n for n in dict.fromkeys(r.method.split("+")[0] for r in rows) if n != TRUE_ALPHA]
    for name in names:
        methods = {r.method for r in rows}
        if name in methods:
            parts += [f"### {name}: whole image (despill off)", _matte_table(rows, name)]
        if methods & {f"{name}+clamp", f"{name}+trimap"}:
            parts += [f"### {name}: trimap band (unknown region only), clamping the coarse matte "
                      "vs. the provider given the trimap", _band_table(rows, name)]
        if name in methods:
            parts += [f"### {name}: despill (foreground colour error, 8-bit levels)",
                      _despill_table(rows, name)]
        parts += [f"![{p.stem}]({p.name})" for p in _plots(rows, name, directory)]
    parts += [f"### Despill on the exact alpha (`{TRUE_ALPHA}`): colour error without matte "
              "errors", _despill_table(rows, TRUE_ALPHA)]
    if outcome.failures:
        parts += ["### Provider failures", "\n".join(f"- {f}" for f in outcome.failures)]
    return "\n\n".join(parts)


def run(settings: BenchSettings) -> str:
    """Generate the composites, score the local provider, return the Markdown section."""
    count, trimap_count = (QUICK_COUNT, QUICK_TRIMAP) if settings.quick else (FULL_COUNT,
                                                                             FULL_TRIMAP)
    tasks = generated_tasks(count, trimap_count, settings.seed)
    workers = min(2, os.cpu_count() or 1)
    check_names(ProviderSpec())  # one line when no ONNX model is present
    outcome = evaluate(tasks, ProviderSpec(), workers)
    sheet = _sample_sheet(settings.results_dir / "quality-samples.png", settings.seed)
    sizes = ", ".join(f"{w}x{h}" for w, h in SIZES)
    intro = "\n".join([
        f"{count} composites `I = F·α + B·(1-α)` generated from seed {settings.seed} "
        f"({count // len(BACKGROUNDS)} per background: {', '.join(BACKGROUNDS)}; sizes {sizes}, "
        "about 1 MP): solid shapes with anti-aliased edges (rendered at 4x and area-averaged), "
        "hair-like strands 0.25-0.75 px wide, a semi-transparent veil in most, sensor noise "
        "σ=1.5. Inputs go to the provider as PNG; the answer goes through the gateway's real "
        "`postprocess` (PNG out) and is scored against the exact alpha with `gateway.quality` "
        "(SAD, gradient and connectivity /1000; MSE a mean). "
        f"Trimap experiments on the first {trimap_count} images: trimap = true alpha's sure "
        f"fg/bg eroded by {TRIMAP_RADIUS} px, scored on its unknown band only. "
        "Lower is better except IoU.",
        "",
        f"![samples]({sheet.name})",
    ])
    return "\n\n".join([report(outcome, settings.results_dir, intro),
                        local_engines.markdown(settings.quick, settings.seed)])
