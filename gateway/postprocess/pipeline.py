"""Post-processing: decode once, run an ordered tuple of small pure steps, encode once.

`build_steps` is the one place that decides which steps run and in which order; a step is a
small pure function of a Frame (see `steps.py`). The original is decoded at most once, at the
size the work needs (a JPEG is decoded at a reduced DCT scale when the output is capped), and
not at all for a matte-only answer. A pass-through answer is not decoded at all
(`pass_through`, from the header facts its attempt checked).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import msgspec
import numpy as np

from gateway.errors import (
    GatewayError,
    InvalidImage,
    ProviderFailed,
    ProviderTimedOut,
    TrimapMismatch,
)
from gateway.postprocess._decode import (
    alpha_array,
    load_oriented,
    open_header,
    to_gray_array,
    to_rgb_array,
)
from gateway.postprocess.answer import Answer, aspect_matches, read_answer
from gateway.postprocess.compose import compose, load_background
from gateway.postprocess.despill import despill
from gateway.postprocess.encode import ALPHA_FORMATS, MEDIA_TYPES, WEBP_MAX_SIDE, encode
from gateway.postprocess.foreground import Box, subject_box
from gateway.postprocess.frame import Frame
from gateway.postprocess.placement import place
from gateway.postprocess.roi import clip_roi
from gateway.postprocess.shadow import cast_shadow
from gateway.postprocess.steps import (
    apply_matte,
    cap_size,
    capped_size,
    clamp_trimap,
    composite,
    crop,
    flatten,
)
from gateway.postprocess.validate import probe_image
from gateway.postprocess.zipfmt import ZIP_MEDIA_TYPE, encode_zip
from providers.base import SIZE_MEGAPIXELS, OutputOptions, ProviderResult
from providers.errors import ProviderError
from providers.images import sniff_format

#: Order in which emulated option names are reported (`X-Emulated`).
EMULATION_ORDER: tuple[str, ...] = (
    "trimap", "roi", "despill", "crop", "crop_margin", "scale", "position", "size", "shadow",
    "bg_color", "bg_image", "channels", "format", "zip",
)
#: Steps after which the alpha no longer shows the subject alone (its box is read before them).
_BACKGROUND_STEPS = frozenset({"shadow", "bg_color", "bg_image", "flatten"})
_NO_SIDE_LIMIT = 1 << 30


class PostprocessJob(msgspec.Struct, frozen=True):
    """What to do with one provider result: the options, which of them are emulated, limits."""

    options: OutputOptions
    emulate: frozenset[str]
    max_pixels: int
    deadline: float
    """Absolute `time.monotonic()` after which the pipeline gives up."""
    trimap: bytes | None = None
    """The normalised trimap (`normalize_trimap`), in the image's displayed orientation."""

    @property
    def needs_colour(self) -> bool:
        """True when the output shows the original's colours (not the matte alone)."""
        return self.options.channels == "rgba"


class ProcessedImage(msgspec.Struct, frozen=True):
    """The encoded answer and what was done locally."""

    data: bytes
    media_type: str
    width: int
    height: int
    emulated: tuple[str, ...]
    foreground: Box | None = None
    """The subject's (top, left, width, height) in the output; None when not measured."""


class Step(msgspec.Struct, frozen=True):
    """One pipeline step and the option names it accounts for."""

    name: str
    run: Callable[[Frame], Frame]
    options: tuple[str, ...] = ()


def build_steps(
    job: PostprocessJob, matte: np.ndarray, trimap: np.ndarray | None
) -> tuple[Step, ...]:
    """The ordered steps for `job`: the one place that decides what runs and in which order."""
    options = job.options
    colour = options.channels == "rgba"
    steps = [Step("matte", partial(apply_matte, matte=matte))]
    if trimap is not None:
        steps.append(Step("trimap", partial(clamp_trimap, trimap=trimap), ("trimap",)))
    if options.roi is not None:
        steps.append(Step("roi", partial(clip_roi, roi=options.roi), ("roi",)))
    if options.despill and colour:
        steps.append(Step("despill", despill, ("despill",)))
    if options.crop:
        cropper = partial(crop, margin=options.crop_margin)
        steps.append(Step("crop", cropper, ("crop", "crop_margin")))
    if options.scale is not None or options.position is not None:
        placer = partial(place, scale=options.scale, position=options.position)
        steps.append(Step("place", placer, ("scale", "position")))
    megapixels = SIZE_MEGAPIXELS.get(options.size)
    if megapixels is not None or options.format == "webp":
        max_pixels = job.max_pixels if megapixels is None else int(megapixels * 1_000_000)
        max_side = WEBP_MAX_SIDE if options.format == "webp" else _NO_SIDE_LIMIT
        steps.append(
            Step("size", partial(cap_size, max_pixels=max_pixels, max_side=max_side), ("size",))
        )
    if options.shadow and colour:
        shadow = partial(cast_shadow, opacity=options.shadow_opacity, kind=options.shadow_type)
        steps.append(Step("shadow", shadow, ("shadow",)))
    if options.bg_color is not None and colour:
        steps.append(Step("bg_color", partial(composite, color=options.bg_color), ("bg_color",)))
    if options.bg_image is not None and colour:
        background = load_background(options.bg_image)
        steps.append(Step("bg_image", partial(compose, background=background), ("bg_image",)))
    if options.format not in ALPHA_FORMATS and options.format != "zip" and colour:
        steps.append(Step("flatten", flatten, ("format",)))
    return tuple(steps)


def check_deadline(deadline: float) -> None:
    """Raise ProviderTimedOut once `deadline` (monotonic seconds) has passed."""
    if time.monotonic() >= deadline:
        raise ProviderTimedOut("the request deadline ran out during post-processing")


def pass_through(result: ProviderResult, answer: Answer) -> ProcessedImage:
    """The provider's answer as is (its attempt checked it is exactly what was asked)."""
    return ProcessedImage(
        data=result.data, media_type=answer.media_type,
        width=answer.width, height=answer.height, emulated=(),
    )


def _draft_size(job: PostprocessJob, size: tuple[int, int]) -> tuple[int, int] | None:
    """The smallest decode size the output needs, when a reduced decode is safe, else None."""
    megapixels = SIZE_MEGAPIXELS.get(job.options.size)
    if megapixels is None or "size" not in job.emulate or job.options.crop or job.trimap:
        return None
    if job.options.roi is not None:  # roi pixels refer to the full-size original
        return None
    target = capped_size(size[0], size[1], int(megapixels * 1_000_000), _NO_SIDE_LIMIT)
    return None if target == size else target


def _decode_original(data: bytes, job: PostprocessJob) -> np.ndarray:
    """The original's RGB pixels, upright, decoded once (reduced when the output is capped)."""
    image_format = sniff_format(data)
    if image_format is None:
        raise InvalidImage("the image is not in an accepted format")
    with open_header(data, image_format, job.max_pixels) as image:
        draft = _draft_size(job, image.size) if image_format == "jpeg" else None
        if draft is not None:
            # DCT scaling: decodes at 1/2, 1/4 or 1/8 while staying at least `draft`.
            image.draft("RGB", draft)
        try:
            return to_rgb_array(load_oriented(image))
        except GatewayError:
            raise
        except Exception as exc:  # exotic modes Pillow cannot convert
            raise InvalidImage("the image cannot be converted to RGB") from exc


def _original_frame(original: bytes | np.ndarray, job: PostprocessJob,
                    size: tuple[int, int]) -> Frame:
    """The original as an opaque Frame; pixels only when the output shows them."""
    if not job.needs_colour:
        width, height = size
        rgb = np.broadcast_to(np.zeros(3, np.uint8), (height, width, 3))
    elif isinstance(original, np.ndarray):
        rgb = original
    else:
        rgb = _decode_original(original, job)
    height, width = rgb.shape[:2]
    # Opaque until the matte step: a broadcast view costs no memory.
    return Frame(rgb=rgb, alpha=np.broadcast_to(np.uint8(255), (height, width)))


def _decode_matte(result: ProviderResult, size: tuple[int, int], max_pixels: int) -> np.ndarray:
    image_format = sniff_format(result.data)
    if image_format is None:
        raise ProviderFailed("the provider answered with something that is not an image")
    try:
        with open_header(result.data, image_format, max_pixels) as header:
            image = load_oriented(header)
    except GatewayError as exc:
        raise ProviderFailed("the provider's image cannot be decoded") from exc
    if not aspect_matches(image.size, size):
        raise ProviderFailed("the provider's image does not match the input's shape")
    matte = to_gray_array(image) if result.kind == "mask" else alpha_array(image)
    if matte is None:
        raise ProviderFailed("the provider's cutout has no alpha channel")
    return matte


def _decode_trimap(data: bytes, size: tuple[int, int]) -> np.ndarray:
    try:
        with open_header(data, "png", size[0] * size[1]) as image:
            trimap = to_gray_array(load_oriented(image))
    except GatewayError as exc:
        raise TrimapMismatch("the trimap cannot be decoded") from exc
    if (trimap.shape[1], trimap.shape[0]) != size:
        raise TrimapMismatch("the trimap is not the image's size")
    return trimap


def postprocess(
    original: bytes | np.ndarray, result: ProviderResult, job: PostprocessJob,
    size: tuple[int, int] | None = None,
) -> ProcessedImage:
    """Turn a provider result into the requested output (sync: run it in a worker thread).

    `original` is the image as sent (bytes, decoded here once) or its upright RGB pixels when
    they were decoded already; `size` is its displayed size (read from the header when None).
    """
    if result.final and not job.emulate:
        try:
            return pass_through(result, read_answer(result, job.max_pixels))
        except ProviderError as exc:
            raise ProviderFailed("the provider's image cannot be read") from exc
    check_deadline(job.deadline)
    if size is None:
        size = _displayed_size(original)
    frame = _original_frame(original, job, size)
    check_deadline(job.deadline)
    matte = _decode_matte(result, size, job.max_pixels)
    trimap = _decode_trimap(job.trimap, size) if job.trimap is not None else None
    applied: set[str] = {"channels", "format", "zip"}
    box: Box | None = None
    for step in build_steps(job, matte, trimap):
        check_deadline(job.deadline)
        if box is None and step.name in _BACKGROUND_STEPS:
            box = subject_box(frame.alpha)
        frame = step.run(frame)
        applied.update(step.options)
    del matte, trimap
    check_deadline(job.deadline)
    options = job.options
    if box is None:
        box = subject_box(frame.alpha)
    if options.format == "zip":
        data, media_type = encode_zip(frame, options.channels), ZIP_MEDIA_TYPE
    else:
        opaque = options.bg_color is not None and options.bg_color[3] == 255
        data = encode(frame, options.format, options.channels, opaque)
        media_type = MEDIA_TYPES[options.format]
    emulated = tuple(n for n in EMULATION_ORDER if n in applied and n in job.emulate)
    return ProcessedImage(
        data=data, media_type=media_type, width=frame.width, height=frame.height,
        emulated=emulated, foreground=box,
    )


def _displayed_size(original: bytes | np.ndarray) -> tuple[int, int]:
    if isinstance(original, np.ndarray):
        return int(original.shape[1]), int(original.shape[0])
    info, _ = probe_image(original, len(original), 1 << 40)
    return info.width, info.height
