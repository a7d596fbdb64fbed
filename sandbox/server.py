"""Run the three fake vendors in one process: `serve` (blocking, for the CLI) and
`running_sandbox` (a context manager for tests, on free loopback ports).

The sandbox has no auth on its `/_sandbox/*` control routes: bind it to loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Generator, Iterator

import msgspec
import uvicorn
from litestar import Litestar

from sandbox.backgroundcut import create_backgroundcut_app
from sandbox.backgrounderase import create_backgrounderase_app
from sandbox.options import SandboxOptions
from sandbox.withoutbg import create_withoutbg_app

__all__ = ["SandboxOptions", "SandboxUrls", "create_apps", "running_sandbox", "serve"]


class SandboxUrls(msgspec.Struct, frozen=True):
    """Base URLs of the running fake vendors (no trailing slash)."""

    withoutbg: str
    backgrounderase: str
    backgroundcut: str


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the caller (three servers share one process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Do not install signal handlers; `serve` stops every server at once."""
        yield


def create_apps(options: SandboxOptions) -> tuple[Litestar, Litestar, Litestar]:
    """The withoutBG, BackgroundErase and BackgroundCut apps, in that order."""
    return (
        create_withoutbg_app(options),
        create_backgrounderase_app(options),
        create_backgroundcut_app(options),
    )


def _servers(options: SandboxOptions, ports: tuple[int, int, int], quiet: bool) -> list[_Server]:
    return [
        _Server(uvicorn.Config(
            app, host=options.host, port=port, log_level="warning" if quiet else options.log_level,
            access_log=not quiet, lifespan="on",
        ))
        for app, port in zip(create_apps(options), ports, strict=True)
    ]


async def _serve_all(servers: list[_Server], handle_signals: bool) -> None:
    if handle_signals:
        loop = asyncio.get_running_loop()

        def stop() -> None:
            for server in servers:
                server.should_exit = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(server.serve() for server in servers))


def serve(options: SandboxOptions) -> None:
    """Run the three fake vendors until SIGINT/SIGTERM (blocking)."""
    ports = (options.withoutbg_port, options.backgrounderase_port, options.backgroundcut_port)
    asyncio.run(_serve_all(_servers(options, ports, quiet=False), handle_signals=True))


@contextlib.contextmanager
def running_sandbox(
    options: SandboxOptions | None = None, startup_timeout_s: float = 15.0
) -> Iterator[SandboxUrls]:
    """Start the fake vendors on free loopback ports in a background thread; yield their URLs."""
    options = options or SandboxOptions()
    servers = _servers(options, (0, 0, 0), quiet=True)
    thread = threading.Thread(
        target=lambda: asyncio.run(_serve_all(servers, handle_signals=False)),
        name="bg-gateway-sandbox", daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not all(server.started for server in servers):
        if not thread.is_alive() or time.monotonic() > deadline:
            for server in servers:
                server.should_exit = True
            thread.join(5)
            raise RuntimeError("the sandbox vendors did not start")
        time.sleep(0.01)
    host = options.host
    urls = [
        f"http://{host}:{server.servers[0].sockets[0].getsockname()[1]}" for server in servers
    ]
    try:
        yield SandboxUrls(*urls)
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(10)
