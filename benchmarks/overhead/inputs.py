"""The benchmark's fixed request: a deterministic ~100 KB JPEG in a multipart body."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

TARGET_BYTES = 100 * 1024
BOUNDARY = "bg-gateway-overhead-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
#: Options every request carries: all native to BackgroundErase, so the gateway passes through.
FIELDS: tuple[tuple[str, str], ...] = (("format", "png"),)


def photo_jpeg(seed: int = 0, width: int = 960, height: int = 640) -> bytes:
    """A photo-like JPEG (colour fields, a disc, grain) whose quality is chosen to be ~100 KB."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.empty((height, width, 3), np.float32)
    for channel in range(3):
        fx, fy, phase = rng.uniform(1.0, 4.0), rng.uniform(1.0, 4.0), rng.uniform(0, 6.28)
        image[..., channel] = 128 + 80 * np.sin(xs / width * fx * 3.14 + ys / height * fy + phase)
    disc = (xs - width / 2) ** 2 + (ys - height / 2) ** 2 < (min(width, height) / 3) ** 2
    image[disc] = (200, 120, 90)
    image += rng.normal(0.0, 6.0, (height, width, 1)).astype(np.float32)
    pixels = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    best = b""
    for quality in range(30, 96, 2):
        buffer = io.BytesIO()
        pixels.save(buffer, "JPEG", quality=quality)
        if best and buffer.tell() > TARGET_BYTES:
            break
        best = buffer.getvalue()
    return best


def multipart_body(image: bytes, fields: tuple[tuple[str, str], ...] = FIELDS) -> bytes:
    """`image_file` plus `fields` as one multipart/form-data body (boundary `BOUNDARY`)."""
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            .encode()
        )
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image_file"; '
        f'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        + image + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def write_body(directory: Path, seed: int = 0) -> tuple[Path, int, tuple[int, int]]:
    """Write the request body once; return its path, the JPEG's size in bytes and pixels."""
    image = photo_jpeg(seed)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "overhead-body.bin"
    path.write_bytes(multipart_body(image))
    with Image.open(io.BytesIO(image)) as opened:
        return path, len(image), opened.size
