"""Checks of image-dependent options before any provider is called: client faults cost nothing."""

from __future__ import annotations

from gateway.postprocess.compose import check_background
from gateway.postprocess.roi import roi_box
from providers.base import OutputOptions


def check_options(
    options: OutputOptions, width: int, height: int, max_bytes: int, max_pixels: int
) -> None:
    """A 400 naming the option when `roi` misses the width x height image or `bg_image` is bad."""
    if options.roi is not None:
        roi_box(options.roi, width, height)
    if options.bg_image is not None:
        check_background(options.bg_image, max_bytes, max_pixels)
