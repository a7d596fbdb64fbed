"""`bg-gateway batch PATH... -o OUTDIR`: many images, in process or through a server's jobs API.

Inputs are files, folders (searched recursively for images) or globs. An output that already
exists is skipped, so an interrupted run resumes where it stopped (outputs are written to a
temporary name and renamed, never left half-written). In process, the images go through the
same removal flow and retry policy as a queue worker (`gateway.jobs.flow`), `--concurrency` at
once; with `--server`, they are sent as jobs of `--chunk` images and the results downloaded as
they finish. A progress bar shows images/s, the ETA and failures; the summary counts images and
cost per provider and lists every failure; the exit code is 1 when any image failed.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
_EXTENSIONS = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}


class Task(msgspec.Struct, frozen=True):
    """One image to do: where it is read from and written to."""

    source: Path
    target: Path


class Outcome(msgspec.Struct, frozen=True):
    """How one image ended."""

    task: Task
    provider: str | None = None
    cost: float = 0.0
    error: str | None = None


def add_batch_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `bg-gateway batch`."""
    batch = commands.add_parser(
        "batch", help="remove the backgrounds of many images (files, folders, globs)",
        description="Remove backgrounds of every image in PATH... into OUTDIR. In process by "
        "default; --server sends them as jobs to a running gateway. Existing outputs are "
        "skipped (resumable).",
    )
    batch.add_argument("paths", nargs="+", help="image files, folders or globs ('shots/*.jpg')")
    batch.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    batch.add_argument("--server", help="gateway base URL: use its jobs API")
    batch.add_argument("--api-key", default=os.environ.get("BG_GATEWAY_API_KEY"),
                       help="gateway client key for --server (default: $BG_GATEWAY_API_KEY)")
    batch.add_argument("--config", help="TOML config for in-process mode")
    batch.add_argument("--concurrency", type=int, default=8, help="images at once (in process)")
    batch.add_argument("--chunk", type=int, default=100, help="images per job (--server)")
    batch.add_argument("--format", choices=["png", "jpg", "webp"], default="png")
    batch.add_argument("--channels", choices=["rgba", "alpha"])
    batch.add_argument("--size", choices=["preview", "medium", "hd", "full", "auto"])
    batch.add_argument("--crop", action="store_true", help="crop tight to the subject")
    batch.add_argument("--bg-color", help="composite onto a colour: white, #ff0000 …")
    batch.add_argument("--despill", action="store_true")
    batch.add_argument("--provider", help="pin one configured provider")


def batch_options(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The unified options the flags ask for."""
    pairs = [("format", args.format), ("channels", args.channels), ("size", args.size),
             ("bg_color", args.bg_color), ("provider", args.provider)]
    options = [(key, value) for key, value in pairs if value]
    options += [(key, "true") for key, on in (("crop", args.crop), ("despill", args.despill))
                if on]
    return options


def collect(paths: list[str], outdir: Path, fmt: str) -> list[Task]:
    """Every image the paths name, each with its output path (folders keep their layout)."""
    tasks: dict[Path, Task] = {}
    suffix = _EXTENSIONS[fmt]
    for given in paths:
        if glob.has_magic(given):
            matches = sorted(glob.glob(given, recursive=True))
            found = [(Path(p), Path(Path(p).name)) for p in matches]
        elif Path(given).is_dir():
            root = Path(given)
            found = [(p, p.relative_to(root)) for p in sorted(root.rglob("*"))]
        elif Path(given).is_file():
            found = [(Path(given), Path(Path(given).name))]
        else:
            raise FileNotFoundError(f"no such file, folder or match: {given}")
        for source, relative in found:
            if source.is_file() and source.suffix.lower() in IMAGE_SUFFIXES:
                target = outdir / relative.with_suffix(suffix)
                tasks.setdefault(source.resolve(), Task(source, target))
    return list(tasks.values())


def write_atomically(path: Path, data: bytes) -> None:
    """Write `path` via a temporary file and a rename (a crash leaves no partial output)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class Tracker:
    """The progress bar and the outcomes so far."""

    def __init__(self, progress: Progress, total: int) -> None:
        """Add a bar of `total` images to `progress`."""
        self.progress = progress
        self.outcomes: list[Outcome] = []
        self.started = time.monotonic()
        self.bar = progress.add_task("removing", total=total, rate="-", failed=0)

    def done(self, outcome: Outcome) -> None:
        """One image finished."""
        self.outcomes.append(outcome)
        elapsed = max(1e-6, time.monotonic() - self.started)
        failed = sum(1 for o in self.outcomes if o.error)
        self.progress.update(self.bar, advance=1, rate=f"{len(self.outcomes) / elapsed:.1f}",
                             failed=failed)


def new_progress(console: Console) -> Progress:
    """A bar with count, images/s, ETA and failures."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} img/s"), TextColumn("ETA"), TimeRemainingColumn(),
        TextColumn("failed: {task.fields[failed]}"), console=console,
    )


def summary(console: Console, outcomes: list[Outcome], skipped: int, elapsed: float) -> int:
    """Print counts per provider, cost and failures; the exit code."""
    done = [o for o in outcomes if o.error is None]
    failed = [o for o in outcomes if o.error is not None]
    table = Table(title="batch summary")
    for column in ("provider", "images", "cost"):
        table.add_column(column, justify="left" if column == "provider" else "right")
    per_provider = Counter(o.provider or "?" for o in done)
    for provider, count in sorted(per_provider.items()):
        cost = sum(o.cost for o in done if o.provider == provider)
        table.add_row(provider, str(count), f"{cost:g}")
    table.add_row("[bold]total", f"[bold]{len(done)}", f"[bold]{sum(o.cost for o in done):g}")
    console.print(table)
    rate = len(outcomes) / elapsed if elapsed > 0 else 0.0
    console.print(f"{len(done)} written, {skipped} skipped (already there), {len(failed)} failed "
                  f"in {elapsed:.1f} s ({rate:.1f} images/s), cost {sum(o.cost for o in done):g}")
    for outcome in failed:
        console.print(f"[red]failed[/red] {outcome.task.source}: {outcome.error}")
    return 1 if failed else 0


def run_batch(args: argparse.Namespace) -> int:
    """Entry point of `bg-gateway batch`."""
    from gateway.jobs.batch import run_in_process, run_via_server
    from gateway.settings import load_settings

    console = Console(stderr=True)
    tasks = collect(args.paths, args.output, args.format)
    todo = [t for t in tasks if not t.target.exists()]
    skipped = len(tasks) - len(todo)
    options = batch_options(args)
    started = time.monotonic()
    with new_progress(console) as progress:
        tracker = Tracker(progress, len(todo))
        if args.server:
            asyncio.run(run_via_server(args.server, args.api_key, todo, options, args.chunk,
                                       tracker))
        else:
            settings = load_settings(args.config)
            asyncio.run(run_in_process(settings, todo, options, args.concurrency, tracker))
    if not tasks:
        print("error: no images found", file=sys.stderr)
        return 1
    return summary(console, tracker.outcomes, skipped, time.monotonic() - started)
