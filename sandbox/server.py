"""Run the seven fake vendors in one process: `serve` (blocking, for the CLI) and
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
from sandbox.clipdrop import create_clipdrop_app
from sandbox.options import SandboxOptions
from sandbox.photoroom import create_photoroom_app
from sandbox.rembg import create_rembg_app
from sandbox.removebg import create_removebg_app
from sandbox.withoutbg import create_withoutbg_app

__all__ = ["SandboxOptions", "SandboxUrls", "create_apps", "running_sandbox", "serve"]


class SandboxUrls(msgspec.Struct, frozen=True):
    """Base URLs of the running fake vendors (no trailing slash)."""

    withoutbg: str
    backgrounderase: str
    backgroundcut: str
    removebg: str
    photoroom: str
    clipdrop: str
    rembg: str

    def all(self) -> tuple[str, ...]:
        """Every vendor's base URL, in field order."""
        return tuple(getattr(self, name) for name in self.__struct_fields__)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the caller (seven servers share one process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Do not install signal handlers; `serve` stops every server at once."""
        yield


def create_apps(options: SandboxOptions) -> tuple[Litestar, ...]:
    """Every fake vendor's app, in `SandboxUrls` field order."""
    return (
        create_withoutbg_app(options),
        create_backgrounderase_app(options),
        create_backgroundcut_app(options),
        create_removebg_app(options),
        create_photoroom_app(options),
        create_clipdrop_app(options),
        create_rembg_app(options),
    )


def _ports(options: SandboxOptions) -> tuple[int, ...]:
    return (
        options.withoutbg_port, options.backgrounderase_port, options.backgroundcut_port,
        options.removebg_port, options.photoroom_port, options.clipdrop_port, options.rembg_port,
    )


def _servers(options: SandboxOptions, ports: tuple[int, ...], quiet: bool) -> list[_Server]:
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
    """Run the seven fake vendors until SIGINT/SIGTERM (blocking)."""
    asyncio.run(_serve_all(_servers(options, _ports(options), quiet=False), handle_signals=True))


@contextlib.contextmanager
def running_sandbox(
    options: SandboxOptions | None = None, startup_timeout_s: float = 15.0
) -> Iterator[SandboxUrls]:
    """Start the fake vendors on free loopback ports in a background thread; yield their URLs."""
    options = options or SandboxOptions()
    servers = _servers(options, (0,) * len(_ports(options)), quiet=True)
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
