"""Generated photo-like JPEGs of a given size, plus the proxy-size matte a vendor would return."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

#: Megapixels -> (width, height), 3:2 like most cameras; 50 MP stays under the default limit.
SIZES: dict[int, tuple[int, int]] = {
    1: (1224, 816),
    12: (4248, 2832),
    24: (6000, 4000),
    50: (8640, 5760),
}
_STRIPE = 512


def photo_like(width: int, height: int, seed: int = 0) -> np.ndarray:
    """HxWx3 uint8: smooth colour fields, a subject disc and sensor grain (realistic to encode)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(30, 220, (9, 13, 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    cv2.circle(image, (width // 2, height // 2), min(width, height) // 3, (200, 120, 90), -1,
               cv2.LINE_AA)
    # Grain added stripe by stripe from one block of noise: no full-size float temporaries.
    grain = rng.normal(0.0, 4.0, (_STRIPE, width, 1)).round().astype(np.int16)
    for top in range(0, height, _STRIPE):
        stripe = image[top : top + _STRIPE]
        noisy = stripe.astype(np.int16) + grain[: stripe.shape[0]]
        image[top : top + _STRIPE] = np.clip(noisy, 0, 255).astype(np.uint8)
    return image


def jpeg_file(directory: Path, megapixels: int, seed: int = 0, quality: int = 90) -> Path:
    """Write (once) and return a `megapixels` MP JPEG in `directory`."""
    width, height = SIZES[megapixels]
    path = directory / f"photo-{megapixels}mp.jpg"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        bgr = cv2.cvtColor(photo_like(width, height, seed), cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("cv2 could not encode the benchmark JPEG")
        path.write_bytes(encoded.tobytes())
    return path


def proxy_matte_png(width: int, height: int) -> bytes:
    """A soft-edged disc matte ("L" PNG) of the proxy size, like a vendor's mask answer."""
    matte = np.zeros((height, width), dtype=np.uint8)
    cv2.circle(matte, (width // 2, height // 2), min(width, height) // 3, 255, -1, cv2.LINE_AA)
    matte = cv2.GaussianBlur(matte, (0, 0), 1.5)
    buffer = io.BytesIO()
    Image.fromarray(matte).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
