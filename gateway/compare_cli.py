"""`bg-gateway compare IMAGE…`: the /v1/compare runner over files, in-process, with a table."""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import msgspec

from gateway.settings import Settings, load_settings

if TYPE_CHECKING:  # the runtime is imported only when the command runs (fast `--help`)
    from gateway.compare.runner import CompareReport, ProviderOutcome

_BAR_WIDTH = 24


class ProviderSummary(msgspec.Struct, frozen=True):
    """One provider's figures over every compared image (means over the images it answered)."""

    provider: str
    ok: int
    errors: int
    latency_ms: float | None
    cost: float
    sad: float | None
    mse: float | None
    iou: float | None
    agreement_iou: float | None
    """Mean IoU with the other providers (images without ground truth)."""


def add_compare_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `compare` on the `bg-gateway` sub-command parser."""
    compare = commands.add_parser(
        "compare", help="compare providers on image files (quality, latency, cost)",
        description="Send every IMAGE to each provider (pinned, no fallback), in-process with "
        "the configured providers, and print mean SAD/MSE/IoU, latency and cost per provider. "
        "Ground truth for photo.jpg is DIR/photo.alpha.png.",
    )
    compare.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    compare.add_argument("--providers", help="comma list (default: every enabled provider)")
    compare.add_argument("--ground-truth", type=Path, metavar="DIR",
                         help="folder of <stem>.alpha.png ground-truth mattes")
    compare.add_argument("--sheet", type=Path, metavar="OUT.png",
                         help="contact sheet; with several images one OUT.<stem>.png each")
    compare.add_argument("--config", help="TOML config (default: $BG_GATEWAY_CONFIG or the "
                         "packaged config/gateway.toml)")


def run_compare(args: argparse.Namespace) -> int:
    """Handler of `bg-gateway compare` (exit 0 when at least one image was compared)."""
    from gateway.logging import configure_logging

    settings = load_settings(args.config)
    configure_logging(settings.server.log_format, level=logging.WARNING)
    # httpx logs every vendor call at INFO, on the stderr the progress bar is drawn on.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    providers = ([p.strip().lower() for p in args.providers.split(",") if p.strip()]
                 if args.providers else None)
    reports = asyncio.run(compare_files(
        settings, args.images, providers, args.ground_truth, args.sheet, sys.stderr,
    ))
    if not reports:
        return 1
    print(format_table(summarize(reports)))
    return 0


def _progress(out: TextIO, done: int, total: int, name: str) -> None:
    filled = _BAR_WIDTH * done // max(total, 1)
    out.write(f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {done}/{total} {name[:40]:<40}")
    if done == total:
        out.write("\n")
    out.flush()


def _sheet_path(sheet: Path, image: Path, several: bool) -> Path:
    return sheet.with_name(f"{sheet.stem}.{image.stem}{sheet.suffix}") if several else sheet


async def compare_files(
    settings: Settings, images: Sequence[Path], providers: Sequence[str] | None,
    ground_truth: Path | None, sheet: Path | None, progress: TextIO,
) -> list[CompareReport]:
    """Compare every image in turn through one in-process runtime; failures go to `progress`."""
    import anyio.to_thread

    from gateway.compare.runner import compare_image, resolve_providers
    from gateway.compare.sheet import comparison_sheet
    from gateway.errors import GatewayError
    from gateway.runtime import Runtime
    from providers.base import OutputOptions

    runtime = Runtime(settings)
    await runtime.start()
    reports = []
    try:
        names = resolve_providers(runtime, providers, None)
        for index, path in enumerate(images):
            _progress(progress, index, len(images), path.name)
            truth_path = ground_truth / f"{path.stem}.alpha.png" if ground_truth else None
            if truth_path is not None and not truth_path.is_file():
                progress.write(f"\nwarning: no ground truth {truth_path}; comparing pairwise\n")
                truth_path = None
            try:
                comparison = await compare_image(
                    runtime, path.read_bytes(), None,
                    truth_path.read_bytes() if truth_path else None, OutputOptions(), names,
                    f"compare-{index}-{path.stem}",
                )
            except GatewayError as exc:
                progress.write(f"\n{path}: {exc.code}: {exc.detail}\n")
                continue
            reports.append(comparison.report)
            if sheet is not None:
                png = await anyio.to_thread.run_sync(comparison_sheet, comparison)
                _sheet_path(sheet, path, len(images) > 1).write_bytes(png)
        _progress(progress, len(images), len(images), "done")
    finally:
        await runtime.stop()
    return reports


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def summarize(reports: Sequence[CompareReport]) -> list[ProviderSummary]:
    """Per provider, in first-seen order: counts, mean latency, total cost, mean quality."""
    rows: dict[str, list[ProviderOutcome]] = {}
    for report in reports:
        for outcome in report.providers:
            rows.setdefault(outcome.provider, []).append(outcome)
    summaries = []
    for name, outcomes in rows.items():
        ok = [o for o in outcomes if o.status == "ok"]
        figures = [o.quality for o in ok if o.quality is not None]
        truth = [q for q in figures if q.against == "ground_truth"]
        pairwise = [q for q in figures if q.agreement]
        summaries.append(ProviderSummary(
            provider=name, ok=len(ok), errors=len(outcomes) - len(ok),
            latency_ms=_mean([o.latency_ms for o in ok]),
            cost=sum(o.cost or 0.0 for o in ok),
            sad=_mean([q.sad for q in truth]), mse=_mean([q.mse for q in truth]),
            iou=_mean([q.iou for q in truth]),
            agreement_iou=_mean([statistics.fmean(a.iou for a in q.agreement.values())
                                 for q in pairwise if q.agreement]),
        ))
    return summaries


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(summaries: Sequence[ProviderSummary]) -> str:
    """A plain-text table, one line per provider."""
    header = ("provider", "ok", "errors", "latency_ms", "cost", "SAD", "MSE", "IoU",
              "agree_IoU")
    lines = [header] + [
        (s.provider, str(s.ok), str(s.errors), _cell(s.latency_ms, 1), f"{s.cost:g}",
         _cell(s.sad, 3), _cell(s.mse, 5), _cell(s.iou, 4), _cell(s.agreement_iou, 4))
        for s in summaries
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                  for i, (cell, w) in enumerate(zip(line, widths, strict=True)))
        for line in lines
    )
