"""`bg-gateway models list|pull|verify`, and the start-up check of `engine = "onnx"` providers.

Everything here calls into `providers.local`; this module only parses, prints and exits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.settings import Settings
from providers.local.config import LocalConfig
from providers.local.models import CATALOGUE, ModelSpec, ModelUnavailable, lookup, model_dir


def add_models_parser(commands: Any) -> None:
    """Register `models` and its actions on the `bg-gateway` sub-command parser."""
    models = commands.add_parser(
        "models", help="list, download and verify the local engine's ONNX models",
        description="ONNX models for the local provider. Directory: --dir, else "
        "$BG_GATEWAY_MODEL_DIR, else ~/.cache/bg-gateway/models. A model is never downloaded "
        "on a request; pull it here (or at image build time).")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the catalogue and which models are present")
    pull = actions.add_parser("pull", help="download a model and verify its pinned hash")
    pull.add_argument("name", help="catalogue name (see `models list`) or a name for --url")
    pull.add_argument("--url", help="download from here instead of the catalogue's URL")
    digest = pull.add_mutually_exclusive_group()
    digest.add_argument("--md5", help="expected MD5 (hex) of the --url file")
    digest.add_argument("--sha256", help="expected SHA-256 (hex) of the --url file")
    verify = actions.add_parser("verify", help="check present models against their hashes")
    verify.add_argument("names", nargs="*", help="models to check (default: every one present)")
    for parser in (listing, pull, verify):
        parser.add_argument("--dir", type=Path, help="model directory")


def run_models(args: argparse.Namespace) -> int:
    """Dispatch `models ACTION`; returns the exit code."""
    directory = model_dir(str(args.dir) if args.dir else None)
    if args.models_command == "list":
        return _list(directory)
    if args.models_command == "pull":
        return _pull(args, directory)
    return _verify(args.names, directory)


def _list(directory: Path) -> int:
    """Print the catalogue: name, family, size, licence, commercial use, present."""
    print(f"model directory: {directory}")
    header = ("name", "family", "size", "licence", "commercial", "present")
    rows = [header] + [
        (s.name, s.family, f"~{s.size_mb} MB", s.licence, "yes" if s.commercial else "NO",
         "yes" if (directory / s.file_name).is_file() else "-")
        for s in CATALOGUE.values()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def _pull_source(args: argparse.Namespace) -> tuple[str, str, str]:
    """(URL, hash algorithm, expected hex) from the catalogue, overridden by the flags."""
    spec: ModelSpec | None = CATALOGUE.get(args.name)
    given = ("md5", args.md5) if args.md5 else ("sha256", args.sha256) if args.sha256 else None
    if args.url is not None and given is None:
        raise ValueError("--url needs --md5 or --sha256: a download is always verified")
    if spec is None:
        if args.url is None or given is None:
            raise ValueError(f"{args.name!r} is not in the catalogue (`bg-gateway models list`)"
                             "; a custom model needs --url and --md5 or --sha256")
        return args.url, given[0], given[1]
    algorithm, expected = given or (spec.hash_algorithm, spec.hash)
    return args.url or spec.url, algorithm, expected


def _pull(args: argparse.Namespace, directory: Path) -> int:
    """Download one model with a progress bar; exit 1 (and no file) on any failure."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    from providers.local.download import PullError, pull

    if "/" in args.name or args.name.startswith("."):
        print(f"error: {args.name!r} is not a model name", file=sys.stderr)
        return 2
    try:
        url, algorithm, expected = _pull_source(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    destination = directory / f"{args.name}.onnx"
    columns = (TextColumn(args.name), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("pull", total=None)
        try:
            pull(url, destination, algorithm, expected,
                 progress=lambda done, total: bar.update(task, completed=done, total=total))
        except PullError as exc:
            bar.stop()
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"{args.name}: {algorithm} verified, saved to {destination}")
    return 0


def _verify(names: list[str], directory: Path) -> int:
    """Hash each named (or present) catalogue model; exit 1 when one is missing or differs."""
    from providers.local.download import verify_file

    try:
        specs = [lookup(n) for n in names] if names else [
            s for s in CATALOGUE.values() if (directory / s.file_name).is_file()]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not specs:
        print(f"no catalogue model in {directory}")
        return 0
    failed = 0
    for spec in specs:
        path = directory / spec.file_name
        if not path.is_file():
            status = f"missing ({path}); `bg-gateway models pull {spec.name}`"
        elif verify_file(path, spec.hash_algorithm, spec.hash):
            status = f"ok ({spec.hash_algorithm})"
        else:
            status = f"CORRUPT: {spec.hash_algorithm} differs; pull it again"
        failed += not status.startswith("ok")
        print(f"{spec.name}: {status}")
    return 1 if failed else 0


def check_onnx_providers(settings: Settings, keep_sessions: bool = True) -> str | None:
    """Load every `engine = "onnx"` model before serving; the problem as a message, or None."""
    from providers.local.choice import choose_engine
    from providers.local.onnx_engine import forget_sessions

    try:
        for name, config in settings.enabled_providers().items():
            if isinstance(config, LocalConfig) and config.engine == "onnx":
                choose_engine(name, config)
    except ModelUnavailable as exc:
        return str(exc)
    finally:
        if not keep_sessions:
            forget_sessions()  # worker processes load their own
    return None
