"""The `bg-gateway` command: serve, remove, sandbox, keys."""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.metadata
import logging
import os
import signal
import sys
from pathlib import Path

from gateway.batch_cli import add_batch_parser, run_batch
from gateway.compare_cli import add_compare_parser, run_compare
from gateway.jobs.commands import add_worker_parser, run_worker_command
from gateway.models_cli import add_models_parser, check_onnx_providers, run_models
from gateway.settings import Settings, SettingsError, load_settings
from gateway.state import StateUnavailable, open_state
from providers.local.models import ModelUnavailable

_DESCRIPTION = """\
bg-gateway: one HTTP endpoint for background removal in front of several vendors and a
local engine. Start the server with `bg-gateway serve`, or remove one background right here
with `bg-gateway remove photo.jpg -o cutout.png` (no server, no API key needed).
"""


def _version() -> str:
    """The installed package's version (a bare checkout that was never installed has none)."""
    try:
        return importlib.metadata.version("bg-gateway")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bg-gateway", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"bg-gateway {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP gateway")
    serve.add_argument("--config", help="TOML config (default: $BG_GATEWAY_CONFIG or the "
                       "packaged config/gateway.toml)")
    serve.add_argument("--host", help="listen address (default: [server] host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: [server] port, 8080)")

    remove = commands.add_parser(
        "remove", help="remove the background of one image file",
        description="Remove the background of IMAGE and write the result to OUT. Runs "
        "in-process with the configured providers unless --server points at a running gateway.",
    )
    remove.add_argument("image", type=Path,
                        help="input image (JPEG, PNG, WebP, TIFF, BMP, GIF); - reads stdin")
    remove.add_argument("-o", "--output", type=Path, required=True,
                        help="where to write the result; - writes stdout")
    remove.add_argument("--format", choices=["png", "jpg", "webp", "zip"],
                        help="output encoding (png); zip = color.jpg + alpha.png")
    remove.add_argument("--channels", choices=["rgba", "alpha"],
                        help="rgba cutout (default) or the alpha matte alone")
    remove.add_argument("--size", choices=["preview", "medium", "hd", "full", "auto"],
                        help="cap on output pixels: preview 0.25 MP, medium 1.5, hd 4, full")
    remove.add_argument("--crop", action="store_true", help="crop tight to the subject")
    remove.add_argument("--crop-margin", help="margin kept when cropping, e.g. 12px or 5%%")
    remove.add_argument("--bg-color", help="composite onto a colour: white, #ff0000, #0008 …")
    remove.add_argument("--despill", action="store_true",
                        help="remove background colour bleeding into soft edges")
    remove.add_argument("--bg-image", type=Path, help="composite onto this image (covers, centred)")
    remove.add_argument("--bg-image-url", help="composite onto the image at this URL")
    remove.add_argument("--roi", help="keep only the subject inside 'x1 y1 x2 y2' (px or %%)")
    remove.add_argument("--scale", help="subject size: 10%%..100%% of the canvas, or original")
    remove.add_argument("--position", help="subject place: original, center, 'N%%' or 'H%% V%%'")
    remove.add_argument("--shadow", action="store_true", help="soft drop shadow under the subject")
    remove.add_argument("--shadow-opacity", help="shadow opacity 0-100 (50)")
    remove.add_argument("--trimap", type=Path,
                        help="grayscale trimap of the same size (0 bg, 255 fg, grey unknown)")
    remove.add_argument("--provider", help="pin one configured provider")
    remove.add_argument("--config", help="TOML config for in-process mode")
    remove.add_argument("--server", help="gateway base URL, e.g. http://127.0.0.1:8080")

    sandbox = commands.add_parser(
        "sandbox", help="run the seven fake vendors (withoutBG, BackgroundErase, BackgroundCut, "
        "remove.bg, Photoroom, Clipdrop, rembg) on loopback",
    )
    sandbox.add_argument("--withoutbg-port", type=int, default=9101)
    sandbox.add_argument("--backgrounderase-port", type=int, default=9102)
    sandbox.add_argument("--backgroundcut-port", type=int, default=9103)
    sandbox.add_argument("--removebg-port", type=int, default=9104)
    sandbox.add_argument("--photoroom-port", type=int, default=9105)
    sandbox.add_argument("--clipdrop-port", type=int, default=9106)
    sandbox.add_argument("--rembg-port", type=int, default=9107)
    sandbox.add_argument("--withoutbg-rate-limit", default="7/minute",
                         help="per-key limit of the fake withoutBG (default 7/minute)")
    sandbox.add_argument("--instant", action="store_true",
                         help="answer ready-made results without computing mattes (benchmarks)")

    add_compare_parser(commands)
    add_worker_parser(commands)
    add_batch_parser(commands)
    add_models_parser(commands)

    keys = commands.add_parser("keys", help="manage gateway client keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    new = key_commands.add_parser("new", help="print a fresh client key and its config snippet")
    new.add_argument("name", help="client name, e.g. shop-backend")
    return parser


def _options(args: argparse.Namespace) -> list[tuple[str, str]]:
    pairs = [("format", args.format), ("channels", args.channels), ("size", args.size),
             ("crop_margin", args.crop_margin), ("bg_color", args.bg_color),
             ("provider", args.provider), ("bg_image_url", args.bg_image_url), ("roi", args.roi),
             ("scale", args.scale), ("position", args.position),
             ("shadow_opacity", args.shadow_opacity)]
    if args.bg_image:
        pairs.append(("bg_image_base64", base64.b64encode(args.bg_image.read_bytes()).decode()))
    options = [(k, v) for k, v in pairs if v]
    flags = (("crop", args.crop), ("despill", args.despill), ("shadow", args.shadow))
    options += [(k, "true") for k, flag in flags if flag]
    return options


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


async def _check_state(settings: Settings) -> None:
    """Fail before binding the port when the shared state backend is unreachable."""
    state = await open_state(settings.state)
    await state.aclose()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app
    from gateway.logging import configure_logging

    settings = load_settings(args.config)
    configure_logging(settings.server.log_format)
    try:
        asyncio.run(_check_state(settings))
    except StateUnavailable as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 2
    problem = check_onnx_providers(settings, keep_sessions=settings.server.workers == 1)
    if problem is not None:
        print(f"start-up failed: {problem}", file=sys.stderr)
        return 2
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal; handling it here
    # makes that graceful shutdown a clean exit (code 0) instead of "killed by SIGTERM".
    signal.signal(signal.SIGTERM, _exit_cleanly)
    common = {
        "host": args.host or settings.server.host,
        "port": args.port or settings.server.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": int(settings.server.shutdown_grace_s),
    }
    if settings.server.workers > 1:
        # Worker processes import the app themselves; they find the config through the env.
        if args.config:
            os.environ["BG_GATEWAY_CONFIG"] = str(Path(args.config).resolve())
        uvicorn.run("gateway.app:create_app_from_env", factory=True,
                    workers=settings.server.workers, **common)  # type: ignore[arg-type]
    else:
        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
    return 0


def _remove(args: argparse.Namespace) -> int:
    from gateway.logging import configure_logging
    from gateway.remote import remove_in_process, remove_via_server

    # stdout may carry the image: logs (warnings and up) and the summary go to stderr.
    configure_logging("auto", logging.WARNING, cache_loggers=False)
    image = sys.stdin.buffer.read() if str(args.image) == "-" else args.image.read_bytes()
    trimap = args.trimap.read_bytes() if args.trimap else None
    if args.server:
        status, data, message = remove_via_server(args.server, image, trimap, _options(args))
    else:
        settings = load_settings(args.config)
        problem = check_onnx_providers(settings)
        if problem is not None:
            print(f"start-up failed: {problem}", file=sys.stderr)
            return 2
        status, data, message = asyncio.run(
            remove_in_process(settings, image, trimap, _options(args))
        )
    if status != 200:
        print(f"error: {message}", file=sys.stderr)
        return 1
    if str(args.output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        args.output.write_bytes(data)
    print(message, file=sys.stderr)
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from gateway.logging import configure_logging
    from sandbox.options import SandboxOptions
    from sandbox.server import serve

    configure_logging("auto")
    serve(SandboxOptions(
        withoutbg_port=args.withoutbg_port,
        backgrounderase_port=args.backgrounderase_port,
        backgroundcut_port=args.backgroundcut_port,
        removebg_port=args.removebg_port,
        photoroom_port=args.photoroom_port,
        clipdrop_port=args.clipdrop_port,
        rembg_port=args.rembg_port,
        withoutbg_rate_limit=args.withoutbg_rate_limit,
        instant=args.instant,
    ))
    return 0


def _keys(args: argparse.Namespace) -> int:
    from gateway.keys import new_client_key

    key, snippet = new_client_key(args.name)
    print(f"client key (shown once, store it now): {key}\n\nadd to your config:\n\n{snippet}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `bg-gateway` console script."""
    args = _parser().parse_args(argv)
    handlers = {"serve": _serve, "remove": _remove, "sandbox": _sandbox, "keys": _keys,
                "compare": run_compare, "models": run_models, "worker": run_worker_command,
                "batch": run_batch}
    try:
        return handlers[args.command](args)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except ModelUnavailable as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
