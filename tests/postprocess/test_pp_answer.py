"""check_answer: what a provider's 200 must be, read from its header."""

from __future__ import annotations

import pytest
from PIL import Image

from gateway.postprocess import BadAnswer, check_answer
from providers.base import OutputOptions, ProviderResult
from tests.imaging import encode

SIZE = (300, 200)
MAX = 50_000_000


def result(data: bytes, kind: str = "cutout", final: bool = True) -> ProviderResult:
    return ProviderResult(data=data, media_type="image/png", kind=kind, provider="v",  # type: ignore[arg-type]
                          final=final)


def cutout(size: tuple[int, int] = SIZE, fmt: str = "PNG", mode: str = "RGBA") -> bytes:
    return encode(Image.new(mode, size, 200), fmt)


def test_the_asked_answer_passes_with_its_header_facts() -> None:
    answer = check_answer(result(cutout()), OutputOptions(), True, SIZE, MAX)
    assert (answer.format, answer.width, answer.height, answer.has_alpha) == ("png", 300, 200, True)


def test_bytes_after_the_end_are_accepted_when_the_image_decodes() -> None:
    check_answer(result(cutout() + b"\x00trailer"), OutputOptions(), True, SIZE, MAX)


@pytest.mark.parametrize(("data", "options", "why"), [
    (cutout()[:300], OutputOptions(), "truncated"),
    (b"<html>oops</html>", OutputOptions(), "not a PNG"),
    (cutout((150, 100)), OutputOptions(), "expected 300x200"),
    (cutout(fmt="WEBP"), OutputOptions(), "asked for png"),
    (cutout(mode="RGB"), OutputOptions(), "transparency"),
    (cutout(), OutputOptions(channels="alpha"), "single-channel"),
    (cutout((310, 150)), OutputOptions(crop=True), "or less"),
])
def test_a_spoilt_pass_through_is_a_bad_answer(data: bytes, options: OutputOptions,
                                               why: str) -> None:
    with pytest.raises(BadAnswer, match=why) as caught:
        check_answer(result(data), options, True, SIZE, MAX)
    assert caught.value.reason == "bad_answer" and caught.value.fallback


def test_answers_to_finish_locally_may_be_proxies_of_the_same_shape() -> None:
    check_answer(result(cutout((150, 100)), final=False), OutputOptions(), False, SIZE, MAX)
    check_answer(result(cutout((150, 100), mode="L"), "mask", False), OutputOptions(), False,
                 SIZE, MAX)
    with pytest.raises(BadAnswer, match="shape"):
        check_answer(result(cutout((200, 200)), final=False), OutputOptions(), False, SIZE, MAX)
    with pytest.raises(BadAnswer, match="no alpha"):
        check_answer(result(cutout(mode="RGB"), final=False), OutputOptions(), False, SIZE, MAX)


def test_a_size_cap_asked_natively_must_be_applied() -> None:
    big = (1000, 800)
    with pytest.raises(BadAnswer, match="expected 559x447"):
        check_answer(result(cutout(big)), OutputOptions(size="preview"), True, big, MAX)
    check_answer(result(cutout((559, 447))), OutputOptions(size="preview"), True, big, MAX)
