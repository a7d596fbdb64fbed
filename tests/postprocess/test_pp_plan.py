"""plan_options: all-or-nothing split between native and emulated options."""

from __future__ import annotations

from gateway.postprocess import plan_options
from providers.base import Capabilities, Margin, OutputOptions

ALL = frozenset({"format", "channels", "size", "crop", "crop_margin", "bg_color", "despill"})


def test_plain_request_is_native_with_nothing_to_emulate() -> None:
    plan = plan_options(OutputOptions(), Capabilities(output="mask"), has_trimap=False)
    assert plan.native == OutputOptions() and plan.emulate == frozenset()


def test_everything_native_passes_options_through() -> None:
    options = OutputOptions(format="webp", crop=True, crop_margin=Margin(5, "%"), size="hd")
    plan = plan_options(options, Capabilities(output="cutout", native=ALL), has_trimap=False)
    assert plan.native == options and plan.emulate == frozenset()


def test_one_missing_option_emulates_all_of_them() -> None:
    options = OutputOptions(format="jpg", size="preview", despill=True)
    caps = Capabilities(output="cutout", native=frozenset({"format", "size"}))
    plan = plan_options(options, caps, has_trimap=False)
    assert plan.native == OutputOptions()
    assert plan.emulate == frozenset({"format", "size", "despill"})


def test_trimap_not_native_is_emulated() -> None:
    plan = plan_options(OutputOptions(), Capabilities(output="mask", native=ALL), has_trimap=True)
    assert plan.native == OutputOptions() and plan.emulate == frozenset({"trimap"})


def test_native_trimap_is_not_emulated_when_other_options_are() -> None:
    caps = Capabilities(output="mask", native=frozenset({"trimap"}))
    plan = plan_options(OutputOptions(crop=True), caps, has_trimap=True)
    assert plan.native == OutputOptions() and plan.emulate == frozenset({"crop"})


def test_native_trimap_and_options_pass_through() -> None:
    caps = Capabilities(output="mask", native=frozenset({"trimap", "crop"}))
    options = OutputOptions(crop=True)
    plan = plan_options(options, caps, has_trimap=True)
    assert plan.native == options and plan.emulate == frozenset()
