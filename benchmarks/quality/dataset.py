"""Folders of `NAME.<ext>` + `NAME.alpha.png` pairs, trimaps from a true alpha, clamping."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from benchmarks.quality.generate import Sample

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
#: Trimap band: pixels within this many pixels of a partial or opposite alpha are unknown.
TRIMAP_RADIUS = 10


def _read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot decode {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _read_alpha(path: Path) -> np.ndarray:
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f"cannot decode {path}")
    if raw.ndim == 3:  # an RGBA cutout's alpha, or a grey matte saved as RGB
        raw = raw[:, :, 3] if raw.shape[2] == 4 else raw[:, :, 0]
    scale = 65535.0 if raw.dtype == np.uint16 else 255.0
    return raw.astype(np.float32) / np.float32(scale)


def find_pairs(directory: Path) -> list[Path]:
    """Images in `directory` that have a `NAME.alpha.png` beside them, sorted by name."""
    found = []
    for alpha_path in sorted(directory.glob("*.alpha.png")):
        stem = alpha_path.name.removesuffix(".alpha.png")
        image_path = next(
            (p for s in _IMAGE_SUFFIXES if (p := directory / f"{stem}{s}").exists()), None
        )
        if image_path is not None:
            found.append(image_path)
    return found


def load_pair(image_path: Path) -> Sample:
    """The image, its `NAME.alpha.png` and optional `NAME.fg.png` (else the image's colours).

    The background kind is the part of NAME after its last `-` (`003-textured`), else `folder`.
    """
    stem = image_path.name[: -len(image_path.suffix)]
    image = _read_rgb(image_path)
    alpha = _read_alpha(image_path.with_name(f"{stem}.alpha.png"))
    if alpha.shape != image.shape[:2]:
        raise ValueError(f"{stem}.alpha.png: its size differs from the image's")
    fg_path = image_path.with_name(f"{stem}.fg.png")
    foreground = _read_rgb(fg_path) if fg_path.exists() else image
    kind = stem.rsplit("-", 1)[1] if "-" in stem else "folder"
    return Sample(name=stem, background=kind, image=image, alpha=alpha, foreground=foreground)


def make_trimap(alpha: np.ndarray, radius: int = TRIMAP_RADIUS) -> np.ndarray:
    """An 8-bit trimap from a true alpha: eroded sure-fg (255) and sure-bg (0), band 128."""
    size = 2 * radius + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    sure_fg = cv2.erode((alpha >= 254.5 / 255).astype(np.uint8), kernel)
    sure_bg = cv2.erode((alpha <= 0.5 / 255).astype(np.uint8), kernel)
    trimap = np.full(alpha.shape, 128, dtype=np.uint8)
    trimap[sure_fg > 0] = 255
    trimap[sure_bg > 0] = 0
    return trimap

