"""Deterministic composites with exactly known alpha and foreground colour.

Each sample is `I = F * a + B * (1 - a)`: a procedural foreground (solid shapes with anti-aliased
edges, hair-like strands of fractional alpha, a semi-transparent veil) over one of four kinds of
background. The alpha is rendered at 4x and area-averaged, so edges carry true coverage values.
Everything derives from `(seed, index)`, so a run is reproducible without committing images.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

BACKGROUNDS: tuple[str, ...] = ("plain", "gradient", "coloured", "textured")
SIZES: tuple[tuple[int, int], ...] = ((1216, 832), (1024, 1024), (832, 1216), (1280, 800))
_SUPERSAMPLE = 4
_SHIFT = 2  # cv2 drawing: coordinates carry 2 fractional bits

FloatImage = NDArray[np.float32]
ByteImage = NDArray[np.uint8]


@dataclass(frozen=True)
class Sample:
    """One composite: name, background kind, the image and its exact alpha and foreground."""

    name: str
    background: str
    image: ByteImage
    alpha: FloatImage
    foreground: ByteImage


def _noise(rng: np.random.Generator, height: int, width: int, cells: int) -> FloatImage:
    """Smooth value noise in [0, 1] with about `cells` features across the longer side."""
    scale = cells / max(height, width)
    small = rng.random((max(2, round(height * scale)), max(2, round(width * scale))))
    return cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)


def _background(kind: str, rng: np.random.Generator, height: int, width: int) -> FloatImage:
    """An HxWx3 float background in [0, 255]."""
    if kind == "plain":
        colour = rng.uniform(60, 235, 3)
        return np.broadcast_to(colour, (height, width, 3)).astype(np.float32)
    if kind == "gradient":
        start, end = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        t = xx * np.cos(angle) + yy * np.sin(angle)
        t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
        return (start + (end - start) * t[:, :, None]).astype(np.float32)
    if kind == "coloured":
        screens = np.array([[40, 190, 60], [30, 70, 200], [210, 40, 40], [230, 200, 30]])
        colour = screens[rng.integers(len(screens))] + rng.uniform(-15, 15, 3)
        shade = 0.9 + 0.1 * _noise(rng, height, width, 3)
        return np.clip(colour * shade[:, :, None], 0, 255).astype(np.float32)
    if kind == "textured":
        base = np.zeros((height, width, 3), dtype=np.float32)
        for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.2)):
            for channel in range(3):
                base[:, :, channel] += weight * _noise(rng, height, width, cells)
        image = 30 + 200 * base
        for _ in range(int(rng.integers(6, 14))):  # clutter: coloured boxes and lines
            colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
            p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            if rng.random() < 0.5:
                cv2.rectangle(image, p1, p2, colour, -1)
            else:
                cv2.line(image, p1, p2, colour, int(rng.integers(2, 9)), cv2.LINE_AA)
        return np.clip(image, 0, 255)
    raise ValueError(f"unknown background kind {kind!r}")


def _pt(x: float, y: float) -> tuple[int, int]:
    """A point on the 4x canvas in cv2's fixed-point coordinates."""
    factor = _SUPERSAMPLE * (1 << _SHIFT)
    return round(x * factor), round(y * factor)


def _body(rng: np.random.Generator, height: int, width: int, grounded: bool) -> ByteImage:
    """The solid subject on a 4x canvas (255 inside)."""
    canvas = np.zeros((height * _SUPERSAMPLE, width * _SUPERSAMPLE), dtype=np.uint8)
    cx, cy = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.42, 0.58)
    scale = min(height, width) * rng.uniform(0.16, 0.26)
    for _ in range(int(rng.integers(2, 4))):
        ox, oy = cx + rng.normal(0, scale * 0.4), cy + rng.normal(0, scale * 0.4)
        shape = int(rng.integers(3))
        if shape == 0:
            axes = _pt(scale * rng.uniform(0.6, 1.1), scale * rng.uniform(0.6, 1.1))
            angle = float(rng.uniform(0, 180))
            cv2.ellipse(canvas, _pt(ox, oy), axes, angle, 0, 360, 255, -1, cv2.LINE_8, _SHIFT)
        else:
            sides = int(rng.integers(3, 8)) if shape == 1 else 4
            angles = np.sort(rng.uniform(0, 2 * np.pi, sides))
            radii = scale * rng.uniform(0.6, 1.1, sides)
            points = [_pt(ox + r * np.cos(a), oy + r * np.sin(a))
                      for a, r in zip(angles, radii, strict=True)]
            cv2.fillPoly(canvas, [np.array(points, dtype=np.int32)], 255, cv2.LINE_8, _SHIFT)
    if grounded:  # a torso standing on the bottom edge, as in most product and portrait shots
        top = cy + scale * 0.3
        half = scale * rng.uniform(0.5, 0.9)
        box = np.array([_pt(cx - half, top), _pt(cx + half, top), _pt(cx + half * 1.3, height),
                        _pt(cx - half * 1.3, height)], dtype=np.int32)
        cv2.fillPoly(canvas, [box], 255, cv2.LINE_8, _SHIFT)
    return canvas


def _strands(rng: np.random.Generator, body: ByteImage, height: int, width: int) -> ByteImage:
    """Hair-like curves growing out of the body's outline, a fraction of a pixel wide."""
    canvas = np.zeros_like(body)
    contours, _ = cv2.findContours(body, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outline = np.concatenate([c[:, 0, :] for c in contours]).astype(np.float64) / _SUPERSAMPLE
    centre = outline.mean(axis=0)
    for _ in range(int(rng.integers(60, 180))):
        x, y = outline[rng.integers(len(outline))]
        heading = np.arctan2(y - centre[1], x - centre[0]) + rng.normal(0, 0.5)
        length = rng.uniform(0.04, 0.14) * min(height, width)
        curl = rng.normal(0, 0.04)
        points = []
        for _ in range(24):
            points.append(_pt(x, y))
            x, y = x + np.cos(heading) * length / 24, y + np.sin(heading) * length / 24
            heading += curl + rng.normal(0, 0.05)
        thickness = int(rng.integers(1, 4))  # 0.25-0.75 px at the final size
        value = int(rng.integers(140, 256))
        polyline = np.array(points, dtype=np.int32)
        cv2.polylines(canvas, [polyline], False, value, thickness, cv2.LINE_AA, _SHIFT)
    return canvas


def _veil(rng: np.random.Generator, height: int, width: int) -> FloatImage:
    """A semi-transparent ellipse (glass, tulle) with smooth, exactly known alpha."""
    canvas = np.zeros((height * _SUPERSAMPLE, width * _SUPERSAMPLE), dtype=np.uint8)
    centre = _pt(width * rng.uniform(0.25, 0.75), height * rng.uniform(0.25, 0.75))
    short = min(height, width)
    axes = _pt(short * rng.uniform(0.1, 0.2), short * rng.uniform(0.1, 0.2))
    angle = float(rng.uniform(0, 180))
    cv2.ellipse(canvas, centre, axes, angle, 0, 360, 255, -1, cv2.LINE_8, _SHIFT)
    opacity = rng.uniform(0.3, 0.65)
    return _downsample(canvas, width, height) * np.float32(opacity)


def _downsample(canvas: ByteImage, width: int, height: int) -> FloatImage:
    small = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def _colour_field(rng: np.random.Generator, height: int, width: int, far: FloatImage) -> FloatImage:
    """A shaded foreground colour, at least a little away from the background's mean colour."""
    mean = far.reshape(-1, 3).mean(axis=0)
    colour = rng.uniform(20, 235, 3)
    for _ in range(20):
        if np.linalg.norm(colour - mean) > 90:
            break
        colour = rng.uniform(20, 235, 3)
    shade = 0.75 + 0.25 * _noise(rng, height, width, 8)
    return np.clip(colour * shade[:, :, None], 0, 255).astype(np.float32)


def make_sample(index: int, seed: int = 0) -> Sample:
    """The `index`-th composite of the seeded set; backgrounds cycle through BACKGROUNDS."""
    rng = np.random.default_rng([seed, index])
    kind = BACKGROUNDS[index % len(BACKGROUNDS)]
    width, height = SIZES[(index // len(BACKGROUNDS)) % len(SIZES)]
    back = _background(kind, rng, height, width)
    body_hi = _body(rng, height, width, grounded=rng.random() < 0.25)
    hair = _downsample(_strands(rng, body_hi, height, width), width, height)
    body = _downsample(body_hi, width, height)
    veil = _veil(rng, height, width) if rng.random() < 0.7 else np.zeros_like(body)
    hair_colour = np.clip(rng.uniform(10, 240) + rng.normal(0, 20, 3), 0, 255)
    layers = [  # front to back
        (body, _colour_field(rng, height, width, back)),
        (hair, np.broadcast_to(hair_colour.astype(np.float32), back.shape)),
        (veil, _colour_field(rng, height, width, back)),
    ]
    alpha = np.zeros((height, width), dtype=np.float32)
    premultiplied = np.zeros_like(back)
    for layer_alpha, colour in layers:  # "over" from the front: each layer fills what is left
        weight = layer_alpha * (1.0 - alpha)
        premultiplied += colour * weight[:, :, None]
        alpha += weight
    foreground = premultiplied / np.maximum(alpha, 1e-6)[:, :, None]
    noise = rng.normal(0, 1.5, back.shape).astype(np.float32)  # camera noise on the composite
    image = premultiplied + back * (1.0 - alpha)[:, :, None] + noise
    return Sample(
        name=f"{index:03d}-{kind}",
        background=kind,
        image=np.clip(image + 0.5, 0, 255).astype(np.uint8),
        alpha=alpha,
        foreground=np.clip(foreground + 0.5, 0, 255).astype(np.uint8),
    )


def samples(count: int, seed: int = 0) -> Iterator[Sample]:
    """The first `count` composites of the seeded set."""
    for index in range(count):
        yield make_sample(index, seed)


def write_sample(sample: Sample, directory: Path) -> Path:
    """Write `NAME.png`, `NAME.alpha.png` and `NAME.fg.png`; return the image path."""
    directory.mkdir(parents=True, exist_ok=True)
    image_path = directory / f"{sample.name}.png"
    cv2.imwrite(str(image_path), cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR))
    alpha8 = np.clip(sample.alpha * 255 + 0.5, 0, 255).astype(np.uint8)
    cv2.imwrite(str(directory / f"{sample.name}.alpha.png"), alpha8)
    fg_bgr = cv2.cvtColor(sample.foreground, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(directory / f"{sample.name}.fg.png"), fg_bgr)
    return image_path
