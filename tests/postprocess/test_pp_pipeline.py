"""postprocess(): matte, options, encodings, pass-through and the deadline."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from gateway.errors import ProviderFailed, ProviderTimedOut
from gateway.postprocess import PostprocessJob, postprocess
from providers.base import OutputOptions, ProviderResult
from tests.imaging import decode, encode
from tests.postprocess.pp_images import (
    BACKGROUND_RGB,
    HEIGHT,
    SUBJECT_RGB,
    WIDTH,
    alpha8,
    job,
    mask_png,
    mask_result,
    original_png,
    original_rgb,
    soft_disc,
)

CENTRE = (HEIGHT // 2, WIDTH // 2)


def run(options: OutputOptions | None = None, **kwargs: object) -> tuple[Image.Image, object]:
    out = postprocess(original_png(), mask_result(), job(options, **kwargs))
    return decode(out.data), out


def close(actual: object, expected: object, tolerance: int) -> bool:
    diff = np.abs(np.asarray(actual, dtype=int) - np.asarray(expected, dtype=int))
    return int(diff.max()) <= tolerance


def test_default_is_full_size_rgba_png_with_the_matte() -> None:
    image, out = run()
    assert image.format == "PNG" and image.mode == "RGBA" and image.size == (WIDTH, HEIGHT)
    assert (out.media_type, out.width, out.height, out.emulated) == (
        "image/png", WIDTH, HEIGHT, ())
    rgba = np.asarray(image)
    assert rgba[0, 0, 3] == 0 and rgba[-1, -1, 3] == 0 and rgba[CENTRE][3] == 255
    assert close(rgba[CENTRE][:3], SUBJECT_RGB, 1)
    assert close(rgba[:, :, 3], alpha8(soft_disc()), 0)


def test_jpg_flattens_on_white() -> None:
    image, out = run(OutputOptions(format="jpg"))
    assert image.format == "JPEG" and image.mode == "RGB" and out.media_type == "image/jpeg"
    assert out.emulated == ("format",)
    rgb = np.asarray(image)
    assert close(rgb[0, 0], (255, 255, 255), 3) and close(rgb[CENTRE], SUBJECT_RGB, 6)


def test_jpg_flattens_on_bg_color() -> None:
    image, out = run(OutputOptions(format="jpg", bg_color=(0, 255, 0, 255)))
    assert out.emulated == ("bg_color", "format")
    rgb = np.asarray(image)
    assert close(rgb[0, 0], (0, 255, 0), 4) and close(rgb[CENTRE], SUBJECT_RGB, 6)


def test_webp_keeps_alpha() -> None:
    image, out = run(OutputOptions(format="webp"))
    assert image.format == "WEBP" and image.mode == "RGBA" and out.media_type == "image/webp"
    rgba = np.asarray(image)
    assert rgba[0, 0, 3] == 0 and rgba[CENTRE][3] == 255
    assert close(rgba[CENTRE][:3], SUBJECT_RGB, 8)
    assert close(rgba[:, :, 3], alpha8(soft_disc()), 2)


@pytest.mark.parametrize(("fmt", "pil_format", "mode"),
                         [("png", "PNG", "L"), ("jpg", "JPEG", "L"), ("webp", "WEBP", "RGB")])
def test_channels_alpha_is_the_matte(fmt: str, pil_format: str, mode: str) -> None:
    options = OutputOptions(format=fmt, channels="alpha", bg_color=(0, 0, 0, 255))
    image, out = run(options)
    assert image.format == pil_format and image.mode == mode and image.size == (WIDTH, HEIGHT)
    assert "channels" in out.emulated and "bg_color" not in out.emulated
    values = np.asarray(image, dtype=int)
    if mode == "RGB":
        assert close(values[:, :, 0], values[:, :, 1], 0)
        assert close(values[:, :, 1], values[:, :, 2], 0)
        values = values[:, :, 0]
    tolerance = 12 if fmt == "jpg" else 0
    assert close(values, alpha8(soft_disc()), tolerance)


def test_size_cap_downscales_keeping_aspect() -> None:
    width, height = 800, 500
    original = encode(Image.fromarray(original_rgb(width, height)), "PNG")
    result = mask_result(mask_png(width, height))
    out = postprocess(original, result, job(OutputOptions(size="preview")))
    assert out.width * out.height <= 250_000 and out.width * out.height > 240_000
    assert abs(out.width / out.height - width / height) < 0.01
    assert decode(out.data).size == (out.width, out.height) and out.emulated == ("size",)


@pytest.mark.parametrize("size", ["preview", "medium", "hd"])
def test_size_cap_never_upscales(size: str) -> None:
    image, _ = run(OutputOptions(size=size))
    assert image.size == (WIDTH, HEIGHT)


def _subject_box(alpha: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(alpha > 10)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_crop_is_tight_around_alpha_over_10() -> None:
    image, out = run(OutputOptions(crop=True))
    x0, y0, x1, y1 = _subject_box(alpha8(soft_disc()))
    assert image.size == (x1 - x0, y1 - y0) and out.emulated == ("crop",)
    alpha = np.asarray(image)[:, :, 3]
    assert alpha[0].max() > 10 and alpha[-1].max() > 10
    assert alpha[:, 0].max() > 10 and alpha[:, -1].max() > 10


def test_crop_margin_in_pixels() -> None:
    from providers.base import Margin

    image, out = run(OutputOptions(crop=True, crop_margin=Margin(5, "px")))
    x0, y0, x1, y1 = _subject_box(alpha8(soft_disc()))
    assert image.size == (x1 - x0 + 10, y1 - y0 + 10)
    assert out.emulated == ("crop", "crop_margin")
    assert np.asarray(image)[:5, :, 3].max() <= 10  # the margin is background


def test_crop_margin_in_percent_is_clipped_to_the_image() -> None:
    from providers.base import Margin

    x0, y0, x1, y1 = _subject_box(alpha8(soft_disc()))
    side = max(x1 - x0, y1 - y0)
    image, _ = run(OutputOptions(crop=True, crop_margin=Margin(10, "%")))
    pad = round(side * 0.10)
    assert image.size == (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)
    image, _ = run(OutputOptions(crop=True, crop_margin=Margin(200, "%")))
    assert image.size == (WIDTH, HEIGHT)


def test_bg_color_opaque() -> None:
    image, out = run(OutputOptions(bg_color=(0, 255, 0, 255)))  # "#0f0"
    assert image.mode == "RGB"  # nothing transparent is left: no alpha channel, like the vendors
    rgb = np.asarray(image)
    assert out.emulated == ("bg_color",)
    assert close(rgb[0, 0], (0, 255, 0), 0)
    assert close(rgb[CENTRE], SUBJECT_RGB, 1)


def test_bg_color_with_alpha() -> None:
    image, _ = run(OutputOptions(bg_color=(255, 0, 0, 128)))  # "#ff000080"
    rgba = np.asarray(image)
    assert close(rgba[0, 0], (255, 0, 0, 128), 0)
    assert close(rgba[CENTRE], (*SUBJECT_RGB, 255), 1)
    # half-transparent edge over half-transparent red: alpha = a + 0.5 (1 - a)
    alpha = soft_disc()
    edge = np.argwhere(np.abs(alpha - 0.5) < 0.05)[0]
    expected = alpha[tuple(edge)] + (128 / 255) * (1 - alpha[tuple(edge)])
    assert abs(int(rgba[tuple(edge)][3]) - expected * 255) <= 2


def test_trimap_clamp_is_exact_and_leaves_unknown_alone() -> None:
    trimap = np.full((HEIGHT, WIDTH), 128, np.uint8)
    trimap[:, :40] = 0      # background: the disc's left edge included
    trimap[55:65, 75:85] = 255
    mask = np.full((HEIGHT, WIDTH), 200, np.uint8)
    mask[55:65, 75:85] = 50
    result = mask_result(encode(Image.fromarray(mask), "PNG"))
    out = postprocess(original_png(), result, job(trimap=encode(Image.fromarray(trimap), "PNG")))
    alpha = np.asarray(decode(out.data))[:, :, 3]
    assert (alpha[:, :40] == 0).all() and (alpha[55:65, 75:85] == 255).all()
    untouched = trimap == 128
    assert (alpha[untouched] == 200).all()
    assert out.emulated == ("trimap",)


def test_native_trimap_is_still_clamped_but_not_reported() -> None:
    trimap = np.full((HEIGHT, WIDTH), 255, np.uint8)
    out = postprocess(original_png(), mask_result(),
                      job(trimap=encode(Image.fromarray(trimap), "PNG"), emulate=frozenset()))
    assert np.asarray(decode(out.data))[:, :, 3].min() == 255 and out.emulated == ()


def test_proxy_mask_is_upscaled_to_the_original() -> None:
    result = mask_result(mask_png(WIDTH // 4, HEIGHT // 4))
    out = postprocess(original_png(), result, job())
    alpha = np.asarray(decode(out.data))[:, :, 3].astype(int)
    assert alpha.shape == (HEIGHT, WIDTH)
    assert np.abs(alpha - alpha8(soft_disc())).mean() < 4
    assert alpha[0, 0] == 0 and alpha[CENTRE] == 255


def test_cutout_alpha_is_used_with_the_originals_colours() -> None:
    cutout = np.zeros((HEIGHT // 2, WIDTH // 2, 4), np.uint8)  # black RGB, half resolution
    cutout[:, :, 3] = alpha8(soft_disc(WIDTH // 2, HEIGHT // 2, 20, 6))
    result = ProviderResult(data=encode(Image.fromarray(cutout), "PNG"), media_type="image/png",
                            kind="cutout", provider="fake")
    rgba = np.asarray(decode(postprocess(original_png(), result, job()).data))
    assert rgba.shape == (HEIGHT, WIDTH, 4) and rgba[0, 0, 3] == 0 and rgba[CENTRE][3] == 255
    assert close(rgba[CENTRE][:3], SUBJECT_RGB, 1)


def test_cutout_without_alpha_is_a_provider_failure() -> None:
    result = ProviderResult(data=original_png(), media_type="image/png", kind="cutout",
                            provider="fake")
    with pytest.raises(ProviderFailed):
        postprocess(original_png(), result, job())


def test_matte_of_another_shape_is_a_provider_failure() -> None:
    with pytest.raises(ProviderFailed):
        postprocess(original_png(), mask_result(mask_png(WIDTH, WIDTH)), job())


def test_final_result_is_passed_through_untouched() -> None:
    data = encode(Image.new("RGBA", (70, 30), (1, 2, 3, 4)), "WEBP", lossless=True)
    result = ProviderResult(data=data, media_type="image/webp", kind="cutout", provider="fake",
                            final=True)
    options = OutputOptions(format="webp")
    out = postprocess(original_png(), result, job(options, emulate=frozenset()))
    assert out.data is result.data
    assert (out.media_type, out.width, out.height, out.emulated) == ("image/webp", 70, 30, ())


def test_final_result_with_emulation_left_is_processed() -> None:
    result = mask_result(final=True)
    out = postprocess(original_png(), result, job(OutputOptions(format="jpg")))
    assert out.data is not result.data and decode(out.data).format == "JPEG"


def test_spent_deadline_raises_provider_timed_out() -> None:
    spent = PostprocessJob(options=OutputOptions(despill=True), emulate=frozenset({"despill"}),
                           max_pixels=50_000_000, deadline=time.monotonic() - 0.001)
    with pytest.raises(ProviderTimedOut) as info:
        postprocess(original_png(), mask_result(), spent)
    assert info.value.status == 504


def test_emulated_names_follow_pipeline_order() -> None:
    options = OutputOptions(format="jpg", crop=True, despill=True, size="preview")
    _, out = run(options)
    assert out.emulated == ("despill", "crop", "size", "format")


def test_background_colour_is_not_reported_where_it_is_not_emulated() -> None:
    _, out = run(OutputOptions(format="jpg", crop=True), emulate=frozenset({"crop"}))
    assert out.emulated == ("crop",)


def test_despill_runs_in_the_pipeline() -> None:
    image, out = run(OutputOptions(despill=True))
    rgba = np.asarray(image).astype(int)
    band = (rgba[:, :, 3] > 25) & (rgba[:, :, 3] < 230)
    raw = original_rgb().astype(int)
    blue_before = raw[band][:, 2].mean()
    assert out.emulated == ("despill",)
    assert rgba[band][:, 2].mean() < blue_before - 40  # the blue background bled out
    assert close(rgba[band][:, :3].mean(axis=0), SUBJECT_RGB, 25)
    assert BACKGROUND_RGB[2] > SUBJECT_RGB[2]


def test_alpha_output_with_crop_and_size_cap() -> None:
    width, height = 800, 500
    original = encode(Image.fromarray(original_rgb(width, height)), "PNG")
    result = mask_result(mask_png(width // 4, height // 4))
    options = OutputOptions(channels="alpha", size="preview", crop=True)
    out = postprocess(original, result, job(options))
    image = decode(out.data)
    assert image.mode == "L" and image.size == (out.width, out.height)
    # the subject (disc of radius 200 + soft edge) is cropped; 460^2 px fit under preview
    assert 440 <= out.width <= 470 and abs(out.width - out.height) <= 2
    assert out.emulated == ("crop", "size", "channels")
    assert np.asarray(image)[out.height // 2, out.width // 2] == 255
