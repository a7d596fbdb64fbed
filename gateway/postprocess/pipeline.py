"""Post-processing: decode once, run an ordered tuple of small pure steps, encode once."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import msgspec
import numpy as np
from PIL import Image

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
    orientation,
    oriented_size,
    to_gray_array,
    to_rgb_array,
)
from gateway.postprocess.despill import despill
from gateway.postprocess.encode import ALPHA_FORMATS, MEDIA_TYPES, WEBP_MAX_SIDE, encode
from gateway.postprocess.frame import Frame
from gateway.postprocess.steps import apply_matte, cap_size, clamp_trimap, composite, crop, flatten
from providers.base import SIZE_MEGAPIXELS, OutputOptions, ProviderResult
from providers.images import MEDIA_TYPES as INPUT_MEDIA_TYPES
from providers.images import sniff_format

#: Order in which emulated option names are reported (`X-Emulated`).
EMULATION_ORDER: tuple[str, ...] = (
    "trimap", "despill", "crop", "crop_margin", "size", "bg_color", "channels", "format",
)
_NO_SIDE_LIMIT = 1 << 30
# The transpose that EXIF orientation N applies (as in ImageOps.exif_transpose).
_ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}


class PostprocessJob(msgspec.Struct, frozen=True):
    """What to do with one provider result: the options, which of them are emulated, limits."""

    options: OutputOptions
    emulate: frozenset[str]
    max_pixels: int
    deadline: float
    """Absolute `time.monotonic()` after which the pipeline gives up."""
    trimap: bytes | None = None
    """The normalised trimap (`normalize_trimap`), in the image's displayed orientation."""


class ProcessedImage(msgspec.Struct, frozen=True):
    """The encoded answer and what was done locally."""

    data: bytes
    media_type: str
    width: int
    height: int
    emulated: tuple[str, ...]


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
    if options.despill and colour:
        steps.append(Step("despill", despill, ("despill",)))
    if options.crop:
        cropper = partial(crop, margin=options.crop_margin)
        steps.append(Step("crop", cropper, ("crop", "crop_margin")))
    megapixels = SIZE_MEGAPIXELS.get(options.size)
    if megapixels is not None or options.format == "webp":
        max_pixels = job.max_pixels if megapixels is None else int(megapixels * 1_000_000)
        max_side = WEBP_MAX_SIDE if options.format == "webp" else _NO_SIDE_LIMIT
        steps.append(
            Step("size", partial(cap_size, max_pixels=max_pixels, max_side=max_side), ("size",))
        )
    if options.bg_color is not None and colour:
        steps.append(Step("bg_color", partial(composite, color=options.bg_color), ("bg_color",)))
    if options.format not in ALPHA_FORMATS and colour:
        steps.append(Step("flatten", flatten, ("format",)))
    return tuple(steps)


def check_deadline(deadline: float) -> None:
    """Raise ProviderTimedOut once `deadline` (monotonic seconds) has passed."""
    if time.monotonic() >= deadline:
        raise ProviderTimedOut("the request deadline ran out during post-processing")


def _pass_through(result: ProviderResult, max_pixels: int) -> ProcessedImage:
    image_format = sniff_format(result.data)
    if image_format is None:
        raise ProviderFailed("the provider answered with something that is not an image")
    try:
        with open_header(result.data, image_format, max_pixels) as image:
            width, height = oriented_size(image)
    except GatewayError as exc:
        raise ProviderFailed("the provider's image cannot be read") from exc
    return ProcessedImage(
        data=result.data, media_type=INPUT_MEDIA_TYPES[image_format],
        width=width, height=height, emulated=(),
    )


def _decode_original(data: bytes, max_pixels: int, colour: bool) -> tuple[Frame, int]:
    """The original as an opaque Frame (pixels decoded only when `colour` is wanted)."""
    image_format = sniff_format(data)
    if image_format is None:
        raise InvalidImage("the image is not in an accepted format")
    with open_header(data, image_format, max_pixels) as image:
        exif_orientation = orientation(image)
        if not colour:
            # A matte-only answer needs the original's displayed size, not its pixels.
            width, height = oriented_size(image)
            rgb = np.broadcast_to(np.zeros(3, np.uint8), (height, width, 3))
        else:
            try:
                rgb = to_rgb_array(load_oriented(image))
            except GatewayError:
                raise
            except Exception as exc:  # exotic modes Pillow cannot convert
                raise InvalidImage("the image cannot be converted to RGB") from exc
    height, width = rgb.shape[:2]
    # Opaque until the matte step: a broadcast view costs no memory.
    return Frame(rgb=rgb, alpha=np.broadcast_to(np.uint8(255), (height, width))), exif_orientation


def _aspect_matches(size: tuple[int, int], target: tuple[int, int]) -> bool:
    (width, height), (target_width, target_height) = size, target
    slack = 0.02 * target_width * target_height + max(target_width, target_height)
    return abs(width * target_height - height * target_width) <= slack


def _decode_matte(result: ProviderResult, exif_orientation: int, size: tuple[int, int],
                  max_pixels: int) -> np.ndarray:
    image_format = sniff_format(result.data)
    if image_format is None:
        raise ProviderFailed("the provider answered with something that is not an image")
    try:
        with open_header(result.data, image_format, max_pixels) as header:
            image = load_oriented(header)
    except GatewayError as exc:
        raise ProviderFailed("the provider's image cannot be decoded") from exc
    if not _aspect_matches(image.size, size):
        swapped = (size[1], size[0])
        if exif_orientation < 5 or not _aspect_matches(image.size, swapped):
            raise ProviderFailed("the provider's image does not match the input's shape")
        # The vendor ignored the input's EXIF orientation: orient its matte the same way.
        image = image.transpose(_ORIENTATION_TRANSPOSE[exif_orientation])
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


def postprocess(original: bytes, result: ProviderResult, job: PostprocessJob) -> ProcessedImage:
    """Turn a provider result into the requested output (sync: run it in a worker thread)."""
    if result.final and not job.emulate:
        return _pass_through(result, job.max_pixels)
    check_deadline(job.deadline)
    colour = job.options.channels == "rgba"
    frame, exif_orientation = _decode_original(original, job.max_pixels, colour)
    size = (frame.width, frame.height)
    check_deadline(job.deadline)
    matte = _decode_matte(result, exif_orientation, size, job.max_pixels)
    trimap = _decode_trimap(job.trimap, size) if job.trimap is not None else None
    applied: set[str] = {"channels", "format"}
    for step in build_steps(job, matte, trimap):
        check_deadline(job.deadline)
        frame = step.run(frame)
        applied.update(step.options)
    del matte, trimap
    check_deadline(job.deadline)
    options = job.options
    opaque = options.bg_color is not None and options.bg_color[3] == 255
    data = encode(frame, options.format, options.channels, opaque)
    emulated = tuple(n for n in EMULATION_ORDER if n in applied and n in job.emulate)
    return ProcessedImage(
        data=data, media_type=MEDIA_TYPES[options.format],
        width=frame.width, height=frame.height, emulated=emulated,
    )
