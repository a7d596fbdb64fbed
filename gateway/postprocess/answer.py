"""Check a provider's answer inside its attempt, from its header: is it what was asked?

An answer that fails here is the attempt's outcome `bad_answer`: it counts against the provider
(circuit breaker) and the router falls over to the next candidate, as for a 5xx. No pixel is
decoded: the format is sniffed, the file must be whole (end marker), and the size and mode come
from the header. A pass-through answer (the vendor did every option) must be exactly what the
client asked for; an answer post-processing will finish must be a matte or cutout of the
input's frame (any resolution of the same aspect: proxies are upscaled).
"""

from __future__ import annotations

import msgspec

from gateway.errors import GatewayError
from gateway.postprocess._decode import open_header, oriented_size
from gateway.postprocess.steps import capped_size
from gateway.postprocess.validate import looks_whole
from providers.base import SIZE_MEGAPIXELS, OutputOptions, ProviderResult
from providers.errors import ProviderProtocolError
from providers.images import MEDIA_TYPES, sniff_format

#: What a provider may answer in, by the `format` option that asked for it.
ANSWER_FORMATS: dict[str, str] = {"png": "png", "jpg": "jpeg", "webp": "webp"}
_NO_SIDE_LIMIT = 1 << 30


class BadAnswer(ProviderProtocolError):
    """A 200 whose image cannot be used: not an image, truncated, wrong size, format or mode."""

    reason = "bad_answer"


class Answer(msgspec.Struct, frozen=True):
    """A checked answer: its format, media type, displayed size and mode (from the header)."""

    format: str
    media_type: str
    width: int
    height: int
    mode: str
    has_alpha: bool


def aspect_matches(size: tuple[int, int], target: tuple[int, int]) -> bool:
    """Same aspect ratio as `target`, within rounding of a downscaled proxy."""
    (width, height), (target_width, target_height) = size, target
    slack = 0.02 * target_width * target_height + max(target_width, target_height)
    return abs(width * target_height - height * target_width) <= slack


def _close(value: int, expected: int) -> bool:
    return abs(value - expected) <= max(2, round(expected * 0.02))


def read_answer(result: ProviderResult, max_pixels: int) -> Answer:
    """Sniff and read the header of `result`; BadAnswer when it is no whole PNG/JPEG/WebP."""
    image_format = sniff_format(result.data)
    if image_format not in ANSWER_FORMATS.values():
        raise BadAnswer("the answer is not a PNG, JPEG or WebP image", provider=result.provider)
    if not looks_whole(result.data, image_format) and not _decodes(result.data, max_pixels):
        raise BadAnswer("the answer's image is truncated", provider=result.provider)
    try:
        with open_header(result.data, image_format, max_pixels) as image:
            width, height = oriented_size(image)
            mode = image.mode
            has_alpha = "A" in image.getbands() or "transparency" in image.info
    except GatewayError:
        raise BadAnswer("the answer's image header cannot be read",
                        provider=result.provider) from None
    return Answer(image_format, MEDIA_TYPES[image_format], width, height, mode, has_alpha)


def _decodes(data: bytes, max_pixels: int) -> bool:
    """A full decode, for the rare answer whose structure the cheap check cannot vouch for
    (bytes after the end marker): such an answer is used when it decodes."""
    image_format = sniff_format(data)
    try:
        with open_header(data, image_format or "png", max_pixels) as image:
            image.load()
    except Exception:  # truncated or corrupt data surfaces as many exception types
        return False
    return True


def _check_final(answer: Answer, asked: OutputOptions, size: tuple[int, int], who: str) -> None:
    """A pass-through answer must be exactly what the client asked for."""
    if answer.format != ANSWER_FORMATS.get(asked.format):
        raise BadAnswer(f"asked for {asked.format}, got {answer.format}", provider=who)
    if asked.channels == "alpha":
        if answer.mode not in ("L", "1", "I", "I;16", "LA"):
            raise BadAnswer(f"asked for a single-channel matte, got {answer.mode}", provider=who)
    elif answer.format != "jpeg" and not answer.has_alpha and asked.bg_image is None and not (
        asked.bg_color is not None and asked.bg_color[3] == 255
    ):
        raise BadAnswer("asked for a cutout with transparency, got none", provider=who)
    cap = SIZE_MEGAPIXELS.get(asked.size)
    cap_pixels = int(cap * 1_000_000) if cap is not None else None
    width, height = size
    if asked.crop:
        fits = answer.width <= width + 2 and answer.height <= height + 2
        if cap_pixels is not None:
            fits = fits and answer.width * answer.height <= cap_pixels * 1.03
    else:
        if cap_pixels is not None:
            width, height = capped_size(width, height, cap_pixels, _NO_SIDE_LIMIT)
        fits = _close(answer.width, width) and _close(answer.height, height)
    if not fits:
        raise BadAnswer(
            f"the answer is {answer.width}x{answer.height}; expected {width}x{height}"
            f"{' or less (crop)' if asked.crop else ''}", provider=who,
        )


def check_answer(
    result: ProviderResult, asked: OutputOptions, passes_through: bool,
    size: tuple[int, int], max_pixels: int,
) -> Answer:
    """The answer's header facts, or BadAnswer when it cannot serve this request.

    `asked` is what the provider was asked to do natively, `size` the input's displayed size,
    `passes_through` whether the answer goes to the client as is.
    """
    answer = read_answer(result, max_pixels)
    if passes_through:
        _check_final(answer, asked, size, result.provider)
        return answer
    if not aspect_matches((answer.width, answer.height), size):
        raise BadAnswer(
            f"the answer is {answer.width}x{answer.height}, not the input's shape "
            f"({size[0]}x{size[1]})", provider=result.provider,
        )
    if result.kind == "cutout" and not answer.has_alpha:
        raise BadAnswer("the provider's cutout has no alpha channel", provider=result.provider)
    return answer
