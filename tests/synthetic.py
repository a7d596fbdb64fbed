"""Deterministic synthetic product photos with their true alpha, for matting tests and benchmarks.

Every generator takes a seed and a size (long side, px) and returns `(PIL RGB image, alpha)` where
`alpha` is float32 HxW in [0, 1] (1 = product). Edges are anti-aliased by drawing at 4x and
area-downscaling, so the truth has genuine fractional coverage along the outline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import cv2
import numpy as np
from PIL import Image

Backdrop = Literal["plain", "gradient", "colour", "clutter", "texture", "tabletop"]
Shape = Literal["box", "bottle", "ellipse"]
SHAPES: tuple[Shape, ...] = ("box", "bottle", "ellipse")
BACKDROPS: tuple[Backdrop, ...] = (
    "plain", "gradient", "colour", "clutter", "texture", "tabletop",
)

_SUPERSAMPLE = 4
#: Product colours: saturated or dark enough to differ from the light studio backdrops.
_PRODUCT_COLOURS: tuple[tuple[int, int, int], ...] = (
    (200, 40, 40), (30, 90, 170), (40, 140, 70), (230, 150, 20),
    (120, 50, 150), (60, 60, 65), (150, 90, 50), (20, 150, 160),
)
_COLOUR_BACKDROPS: tuple[tuple[int, int, int], ...] = (
    (170, 205, 235), (240, 215, 170), (200, 230, 200), (235, 190, 200),
)


def _frame(size: int, rng: np.random.Generator) -> tuple[int, int]:
    """Image (width, height): long side `size`, aspect between 3:4 and 4:3."""
    aspect = float(rng.uniform(0.75, 1.33))
    if aspect >= 1:
        return size, max(16, round(size / aspect))
    return max(16, round(size * aspect)), size


def _shape_mask(shape: Shape, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Binary mask (uint8 0/255) of one product outline, drawn at supersampled resolution."""
    s = _SUPERSAMPLE
    big_w, big_h = width * s, height * s
    mask = np.zeros((big_h, big_w), np.uint8)
    cx = big_w * float(rng.uniform(0.45, 0.55))
    cy = big_h * float(rng.uniform(0.45, 0.55))
    half_w = big_w * float(rng.uniform(0.18, 0.3))
    half_h = big_h * float(rng.uniform(0.25, 0.38))
    if shape == "ellipse":
        angle = float(rng.uniform(-30, 30))
        cv2.ellipse(mask, (round(cx), round(cy)), (round(half_w), round(half_h)), angle, 0, 360,
                    255, -1, cv2.LINE_8)
    elif shape == "box":
        radius = round(min(half_w, half_h) * float(rng.uniform(0.1, 0.35)))
        _rounded_rect(mask, cx - half_w, cy - half_h, cx + half_w, cy + half_h, radius)
    else:
        body_top = cy - half_h * 0.35
        radius = round(half_w * 0.3)
        _rounded_rect(mask, cx - half_w, body_top, cx + half_w, cy + half_h, radius)
        shoulder = np.array([[cx - half_w, body_top + radius], [cx + half_w, body_top + radius],
                             [cx + half_w * 0.35, cy - half_h * 0.6],
                             [cx - half_w * 0.35, cy - half_h * 0.6]], np.int32)
        cv2.fillPoly(mask, [shoulder], 255)
        neck = half_w * 0.35
        _rounded_rect(mask, cx - neck, cy - half_h, cx + neck, cy - half_h * 0.5, round(neck * 0.2))
    return mask


def _rounded_rect(mask: np.ndarray, x0: float, y0: float, x1: float, y1: float, r: int) -> None:
    """Fill a rectangle with corners of radius `r` into `mask`."""
    a, b, c, d = round(x0), round(y0), round(x1), round(y1)
    r = max(1, min(r, (c - a) // 2, (d - b) // 2))
    cv2.rectangle(mask, (a + r, b), (c - r, d), 255, -1)
    cv2.rectangle(mask, (a, b + r), (c, d - r), 255, -1)
    for px, py in ((a + r, b + r), (c - r, b + r), (a + r, d - r), (c - r, d - r)):
        cv2.circle(mask, (px, py), r, 255, -1)


def _product(mask_big: np.ndarray, width: int, height: int,
             rng: np.random.Generator) -> np.ndarray:
    """Product colours (float32 HxWx3, 0..255) with side shading, a highlight and a label."""
    colour = np.array(_PRODUCT_COLOURS[int(rng.integers(len(_PRODUCT_COLOURS)))], np.float32)
    ys, xs = np.nonzero(mask_big)
    s = _SUPERSAMPLE
    left, right = xs.min() / s, xs.max() / s
    top, bottom = ys.min() / s, ys.max() / s
    u = (np.arange(width, dtype=np.float32) - left) / max(1.0, right - left)
    shade = 0.75 + 0.35 * np.clip(1 - np.abs(u - 0.35) * 1.6, 0, 1)
    colours = colour[None, None, :] * shade[None, :, None] * np.ones((height, 1, 1), np.float32)
    highlight = np.exp(-(((u - 0.3) / 0.05) ** 2))[None, :, None] * 60
    colours = colours + highlight
    label_top = round(top + (bottom - top) * float(rng.uniform(0.45, 0.55)))
    label_bottom = round(label_top + (bottom - top) * 0.2)
    label_left = round(left + (right - left) * 0.2)
    label_right = round(right - (right - left) * 0.2)
    colours[label_top:label_bottom, label_left:label_right] = (246, 246, 244)
    return np.clip(colours, 0, 255)


def _backdrop(kind: Backdrop, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Backdrop colours (float32 HxWx3, 0..255)."""
    if kind == "plain":
        tone = float(rng.uniform(238, 252))
        return np.full((height, width, 3), tone, np.float32)
    if kind == "colour":
        colour = _COLOUR_BACKDROPS[int(rng.integers(len(_COLOUR_BACKDROPS)))]
        return np.broadcast_to(np.array(colour, np.float32), (height, width, 3)).copy()
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "texture":
        return _texture(width, height, rng)
    if kind == "tabletop":
        wall = np.array(_COLOUR_BACKDROPS[int(rng.integers(len(_COLOUR_BACKDROPS)))], np.float32)
        table = np.array(rng.uniform([90, 60, 40], [130, 90, 60]), np.float32)
        horizon = height * float(rng.uniform(0.6, 0.72))
        return np.where((yy < horizon)[..., None], wall, table)
    if kind == "gradient":
        light = np.array(rng.uniform(235, 252, 3), np.float32)
        dark = light - np.array(rng.uniform(45, 80), np.float32) * np.array([1.0, 0.97, 0.9])
        if rng.random() < 0.5:
            t = yy / max(1, height - 1)
        else:
            r = np.hypot(xx / width - 0.5, yy / height - 0.45) / 0.75
            t = np.clip(r, 0, 1)
        return light * (1 - t[..., None]) + dark * t[..., None]
    canvas = np.full((height, width, 3), 128, np.uint8)
    for _ in range(60):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        extent = int(rng.integers(max(4, width // 20), max(5, width // 4)))
        if rng.random() < 0.5:
            cv2.rectangle(canvas, (x, y), (x + extent, y + extent // 2), colour, -1)
        else:
            cv2.circle(canvas, (x, y), extent // 2, colour, -1)
    return canvas.astype(np.float32)


def _texture(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Wood-like texture: beige base, blurred grain streaks and planks (float32 HxWx3)."""
    grain = rng.normal(0, 1, (height, max(1, width // 8))).astype(np.float32)
    grain = cv2.resize(grain, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = cv2.GaussianBlur(grain, (0, 0), 1.5)
    planks = (np.arange(height) // max(8, height // 6) % 2).astype(np.float32)[:, None] * 18
    tone = grain * 14 + planks
    base = np.array(rng.uniform([170, 125, 80], [200, 150, 100]), np.float32)
    return base[None, None, :] + tone[..., None] * np.array([1.0, 0.8, 0.6], np.float32)


def _shadow(alpha: np.ndarray, strength: float) -> np.ndarray:
    """Soft contact shadow under the product: multiplicative darkening factor HxW."""
    height = alpha.shape[0]
    ys, xs = np.nonzero(alpha > 0.5)
    cx, bottom = float(xs.mean()), float(ys.max())
    half = (xs.max() - xs.min()) / 2
    shadow = np.zeros_like(alpha)
    cv2.ellipse(shadow, (round(cx + half * 0.15), round(bottom)),
                (round(half * 1.05), max(2, round(height * 0.03))), 0, 0, 360, 1.0, -1)
    blur = max(3, round(height * 0.02)) | 1
    shadow = cv2.GaussianBlur(shadow, (0, 0), blur)
    return 1 - strength * shadow


def product_photo(backdrop: Backdrop, seed: int, size: int = 384, shape: Shape | None = None,
                  shadow: float = 0.12, noise: float = 1.5) -> tuple[Image.Image, np.ndarray]:
    """One product on `backdrop`: (RGB image, float32 truth alpha); same seed, same picture."""
    rng = np.random.default_rng([seed, BACKDROPS.index(backdrop)])
    width, height = _frame(size, rng)
    chosen: Shape = shape or SHAPES[seed % len(SHAPES)]
    mask_big = _shape_mask(chosen, width, height, rng)
    alpha = cv2.resize(mask_big.astype(np.float32) / 255, (width, height),
                       interpolation=cv2.INTER_AREA)
    foreground = _product(mask_big, width, height, rng)
    background = _backdrop(backdrop, width, height, rng)
    if shadow > 0 and backdrop not in ("clutter", "texture"):
        background = background * _shadow(alpha, shadow)[..., None]
    a = alpha[..., None]
    pixels = foreground * a + background * (1 - a)
    if noise > 0:
        pixels = pixels + rng.normal(0, noise, pixels.shape).astype(np.float32)
    rgb = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(rgb), np.clip(alpha, 0, 1).astype(np.float32)


Edge = Literal["top", "bottom", "left", "right"]


def _edge_offset(mask_big: np.ndarray, edges: tuple[Edge, ...], cut: float) -> tuple[int, int]:
    """(dx, dy) in output pixels that put `cut` of the product's extent beyond each of `edges`."""
    ys, xs = np.nonzero(mask_big)
    height, width = mask_big.shape
    dy = dx = 0.0
    if "bottom" in edges:
        dy = height - 1 - ys.max() + cut * (ys.max() - ys.min())
    if "top" in edges:
        dy = -(ys.min() + cut * (ys.max() - ys.min()))
    if "right" in edges:
        dx = width - 1 - xs.max() + cut * (xs.max() - xs.min())
    if "left" in edges:
        dx = -(xs.min() + cut * (xs.max() - xs.min()))
    return round(dx / _SUPERSAMPLE), round(dy / _SUPERSAMPLE)


def _shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`image` moved by (dx, dy) pixels, uncovered parts zero."""
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, shift, image.shape[1::-1], flags=cv2.INTER_NEAREST)


def edge_photo(backdrop: Backdrop, seed: int, size: int = 384,
               edges: tuple[Edge, ...] = ("bottom",), cut: float = 0.2,
               shadow: float = 0.12, noise: float = 1.5) -> tuple[Image.Image, np.ndarray]:
    """A product cut off by the frame at `edges` (`cut` of it outside): (RGB image, true alpha)."""
    rng = np.random.default_rng([seed, BACKDROPS.index(backdrop), 7])
    width, height = _frame(size, rng)
    shape = SHAPES[seed % len(SHAPES)]
    mask_big = _shape_mask(shape, width, height, rng)
    # The product is drawn whole, label and all, then moved: the frame cuts it, not the label.
    foreground = _product(mask_big, width, height, rng)
    dx, dy = _edge_offset(mask_big, edges, cut)
    mask_big = _shifted(mask_big, dx * _SUPERSAMPLE, dy * _SUPERSAMPLE)
    foreground = _shifted(foreground, dx, dy)
    alpha = cv2.resize(mask_big.astype(np.float32) / 255, (width, height),
                       interpolation=cv2.INTER_AREA)
    background = _backdrop(backdrop, width, height, rng)
    if shadow > 0:
        background = background * _shadow(alpha, shadow)[..., None]
    a = alpha[..., None]
    pixels = foreground * a + background * (1 - a)
    pixels = pixels + rng.normal(0, noise, pixels.shape).astype(np.float32)
    rgb = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(rgb), np.clip(alpha, 0, 1).astype(np.float32)


def on_plain(seed: int, size: int = 384) -> tuple[Image.Image, np.ndarray]:
    """Product on a plain near-white studio backdrop."""
    return product_photo("plain", seed, size)


def on_gradient(seed: int, size: int = 384) -> tuple[Image.Image, np.ndarray]:
    """Product on a linear or radial (vignette) gradient backdrop."""
    return product_photo("gradient", seed, size)


def on_colour(seed: int, size: int = 384) -> tuple[Image.Image, np.ndarray]:
    """Product on a plain pastel-coloured backdrop."""
    return product_photo("colour", seed, size)


def on_clutter(seed: int, size: int = 384) -> tuple[Image.Image, np.ndarray]:
    """Product in front of a cluttered scene of random shapes (no clean border)."""
    return product_photo("clutter", seed, size)


def on_texture(seed: int, size: int = 384) -> tuple[Image.Image, np.ndarray]:
    """Product on a wood-like textured surface (border too busy for keying)."""
    return product_photo("texture", seed, size)


def on_tabletop(seed: int, size: int = 384) -> tuple[Image.Image, np.ndarray]:
    """Product on a table in front of a wall: two flat colours meet behind it (not keyable)."""
    return product_photo("tabletop", seed, size)


GENERATORS: dict[Backdrop, Callable[[int, int], tuple[Image.Image, np.ndarray]]] = {
    "plain": on_plain, "gradient": on_gradient, "colour": on_colour, "clutter": on_clutter,
    "texture": on_texture, "tabletop": on_tabletop,
}


def trimap_from_alpha(alpha: np.ndarray, band: int = 8) -> np.ndarray:
    """Trimap (uint8: 0 bg, 255 fg, 128 unknown) with an unknown band about `band` px each side."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    sure_fg = cv2.erode((alpha >= 0.999).astype(np.uint8), kernel).astype(bool)
    sure_bg = cv2.erode((alpha <= 0.001).astype(np.uint8), kernel).astype(bool)
    trimap = np.full(alpha.shape, 128, np.uint8)
    trimap[sure_fg] = 255
    trimap[sure_bg] = 0
    return trimap


def iou(matte: np.ndarray, alpha: np.ndarray) -> float:
    """IoU of `matte` > 128 (uint8) against `alpha` > 0.5 (truth)."""
    predicted = matte > 128
    truth = alpha > 0.5
    union = np.logical_or(predicted, truth).sum()
    return float(np.logical_and(predicted, truth).sum() / union) if union else 1.0
