"""Download a model file and verify its pinned hash; the file appears whole or not at all."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import httpx

ProgressCallback = Callable[[int, int | None], None]
"""(bytes received so far, total bytes when the server said) -> None."""

_CHUNK = 1 << 20
_TIMEOUT = httpx.Timeout(30.0, read=120.0)


class PullError(Exception):
    """A download failed or did not match its hash; no file was left behind."""


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of the file at `path` (read in chunks)."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, algorithm: str, expected: str) -> bool:
    """True when the file exists and its digest is `expected` (case-insensitive)."""
    return path.is_file() and file_digest(path, algorithm) == expected.lower()


def pull(url: str, destination: Path, algorithm: str, expected: str,
         progress: ProgressCallback | None = None,
         transport: httpx.BaseTransport | None = None) -> Path:
    """Download `url` to `destination`, checking size and hash; PullError leaves nothing behind."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Same directory, so the final rename is atomic and never crosses file systems.
    handle, temp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part",
                                         dir=destination.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _stream(url, out, algorithm, progress, transport)
        if digest != expected.lower():
            raise PullError(f"{url}: {algorithm} is {digest}, expected {expected.lower()}; "
                            "the download was discarded")
        os.replace(temp, destination)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return destination


def _stream(url: str, out: BinaryIO, algorithm: str, progress: ProgressCallback | None,
            transport: httpx.BaseTransport | None) -> str:
    """Write the body of `url` to `out` (a binary file); return its hex digest."""
    digest = hashlib.new(algorithm)
    received = 0
    try:
        with httpx.Client(transport=transport, timeout=_TIMEOUT, follow_redirects=True) as client, \
                client.stream("GET", url) as response:
            if response.status_code != 200:
                raise PullError(f"{url}: HTTP {response.status_code}")
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            for chunk in response.iter_raw(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if progress is not None:
                    progress(received, total)
    except httpx.HTTPError as exc:
        raise PullError(f"{url}: download interrupted after {received} bytes "
                        f"({type(exc).__name__})") from exc
    if total is not None and received != total:
        raise PullError(f"{url}: got {received} of {total} bytes; the download was discarded")
    return digest.hexdigest()
