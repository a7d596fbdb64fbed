"""The one route module of the web console: `/` and `/console/...` from the packaged files.

The files are read once from `gateway/console/static/` into a name -> bytes table; a request
can only ever get one of those names (no path is joined from user input). Every answer carries
a strict Content-Security-Policy: no inline script or style, no third-party origin.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import PathParameter

from gateway.settings.sections import ConsoleSettings

STATIC_DIR = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@cache
def console_files() -> dict[str, tuple[bytes, str]]:
    """Every servable file: relative POSIX path -> (bytes, media type), read once."""
    files: dict[str, tuple[bytes, str]] = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        media_type = MEDIA_TYPES.get(path.suffix)
        if path.is_file() and media_type is not None:
            files[path.relative_to(STATIC_DIR).as_posix()] = (path.read_bytes(), media_type)
    return files


def console_response(name: str) -> Response[bytes]:
    """One packaged file with the console's security headers, or a 404."""
    found = console_files().get(name)
    if found is None:
        raise NotFoundException(detail="no such console file")
    body, media_type = found
    return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


@get(["/", "/console"], include_in_schema=False, sync_to_thread=False)
def console_index() -> Response[bytes]:
    """The console's single page."""
    return console_response("index.html")


@get("/console/{name:path}", include_in_schema=False, sync_to_thread=False)
def console_file(name: Annotated[str, PathParameter()]) -> Response[bytes]:
    """A script, stylesheet or image of the console."""
    return console_response(name.lstrip("/") or "index.html")


def console_routes(settings: ConsoleSettings) -> list[HTTPRouteHandler]:
    """The console's routes, or none when `[console] enabled = false`."""
    return [console_index, console_file] if settings.enabled else []
