"""The fake BackgroundErase v2 over real HTTP: auth, inputs, every flag, errors, health, faults."""

from __future__ import annotations

import base64
import math

import httpx
import numpy as np
import pytest
from PIL import Image

from sandbox.erase_render import FlagError, despill, parse_flags
from sandbox.options import BACKGROUNDERASE_KEY
from sandbox.server import SandboxUrls
from tests.imaging import decode, encode
from tests.sandbox.helpers import corrupt_jpeg, subject_image

KEY = {"x-api-key": BACKGROUNDERASE_KEY}


def post(client: httpx.Client, base: str, data: bytes, **fields: str) -> httpx.Response:
    """Multipart POST /v2 with `image_file` and form fields."""
    files = {"image_file": ("input.jpg", data, "image/jpeg")}
    return client.post(f"{base}/v2", files=files, data=fields, headers=KEY)


def assert_error(answer: httpx.Response, status: int, code: str) -> None:
    """The documented structured error."""
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]


def test_missing_or_wrong_key_is_401(sandbox: SandboxUrls, client: httpx.Client) -> None:
    files = {"image_file": ("a.jpg", encode(subject_image()), "image/jpeg")}
    for headers in ({}, {"x-api-key": "wrong"}):
        assert_error(client.post(f"{sandbox.backgrounderase}/v2", files=files, headers=headers),
                     401, "unauthorized")


def test_default_is_a_png_cutout_at_input_size(sandbox: SandboxUrls, client: httpx.Client) -> None:
    answer = post(client, sandbox.backgrounderase, encode(subject_image()))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    cutout = decode(answer.content)
    assert (cutout.mode, cutout.size) == ("RGBA", (256, 192))
    assert cutout.getpixel((2, 2))[3] < 30
    assert cutout.getpixel((128, 96))[3] > 225


def test_keys_are_case_insensitive_and_alpha_is_a_png_mask(
    sandbox: SandboxUrls, client: httpx.Client
) -> None:
    answer = post(client, sandbox.backgrounderase, encode(subject_image()),
                  Channels="ALPHA", FORMAT="jpg")
    assert answer.headers["content-type"] == "image/png"
    mask = decode(answer.content)
    assert (mask.mode, mask.size) == ("L", (256, 192))
    assert mask.getpixel((2, 2)) < 30 and mask.getpixel((128, 96)) > 225


def test_jpg_flattens_on_white_and_bg_color_on_the_colour(
    sandbox: SandboxUrls, client: httpx.Client
) -> None:
    data = encode(subject_image())
    jpg = decode(post(client, sandbox.backgrounderase, data, format="jpg").content)
    assert jpg.format == "JPEG" and jpg.mode == "RGB"
    assert min(jpg.getpixel((2, 2))) > 230
    blue = decode(post(client, sandbox.backgrounderase, data, bg_color="blue").content)
    assert blue.mode == "RGB"
    red, green, b = blue.getpixel((2, 2))
    assert red < 20 and green < 20 and b > 230
    short_hex = decode(post(client, sandbox.backgrounderase, data, bg_color="f00").content)
    assert short_hex.getpixel((2, 2))[0] > 230 and short_hex.getpixel((2, 2))[2] < 20


def test_webp_output(sandbox: SandboxUrls, client: httpx.Client) -> None:
    answer = post(client, sandbox.backgrounderase, encode(subject_image()), format="webp")
    assert answer.headers["content-type"] == "image/webp"
    assert decode(answer.content).size == (256, 192)


def test_size_caps_megapixels_and_keeps_aspect(sandbox: SandboxUrls, client: httpx.Client) -> None:
    answer = post(client, sandbox.backgrounderase, encode(subject_image(1000, 800)), size="preview")
    out = decode(answer.content)
    assert out.width * out.height <= 0.25e6 * 1.01
    assert math.isclose(out.width / out.height, 1000 / 800, rel_tol=0.01)
    full = decode(post(client, sandbox.backgrounderase, encode(subject_image()), size="hd").content)
    assert full.size == (256, 192)  # never upscaled


def test_crop_tightens_to_the_subject(sandbox: SandboxUrls, client: httpx.Client) -> None:
    answer = post(client, sandbox.backgrounderase, encode(subject_image()), crop="yes")
    out = decode(answer.content)
    # the ellipse spans 40% x 50% of the 256x192 frame
    assert 90 <= out.width <= 120 and 86 <= out.height <= 110
    assert out.getpixel((out.width // 2, out.height // 2))[3] > 225


@pytest.mark.parametrize(("name", "value"), [
    ("crop", "maybe"), ("format", "gif"), ("channels", "rgb"), ("size", "huge"),
    ("bg_color", "not-a-colour"), ("despill", "2"),
])
def test_bad_flag_values_are_400(
    sandbox: SandboxUrls, client: httpx.Client, name: str, value: str
) -> None:
    answer = post(client, sandbox.backgrounderase, encode(subject_image()), **{name: value})
    assert_error(answer, 400, "invalid_option")
    assert name in answer.json()["error"]["message"]


def test_boolean_spellings() -> None:
    for text, expected in [("true", True), ("YES", True), ("1", True),
                           ("false", False), ("No", False), ("0", False)]:
        assert parse_flags({"crop": text, "despill": text}, force_alpha=False).crop is expected
    with pytest.raises(FlagError):
        parse_flags({"crop": "on"}, force_alpha=False)


def test_json_legacy_image_forces_a_mask(sandbox: SandboxUrls, client: httpx.Client) -> None:
    body = {"image": base64.b64encode(encode(subject_image())).decode(), "channels": "rgba"}
    answer = client.post(f"{sandbox.backgrounderase}/v2", json=body, headers=KEY)
    payload = answer.json()
    assert payload["channels"] == "alpha"
    assert (payload["width"], payload["height"]) == (256, 192)
    assert decode(base64.b64decode(payload["image_base64"])).mode == "L"


def test_json_image_base64_with_data_url(sandbox: SandboxUrls, client: httpx.Client) -> None:
    encoded = base64.b64encode(encode(subject_image())).decode()
    body = {"Image_Base64": f"data:image/jpeg;base64,{encoded}", "format": "webp",
            "despill": True}
    payload = client.post(f"{sandbox.backgrounderase}/v2", json=body, headers=KEY).json()
    assert (payload["format"], payload["media_type"]) == ("webp", "image/webp")
    image = decode(base64.b64decode(payload["image_base64"]))
    assert image.mode == "RGBA" and image.size == (256, 192)


def test_multipart_base64_field(sandbox: SandboxUrls, client: httpx.Client) -> None:
    encoded = base64.b64encode(encode(subject_image())).decode()
    answer = client.post(f"{sandbox.backgrounderase}/v2", data={"image_file_b64": encoded},
                         files={"other": ("x.txt", b"x")}, headers=KEY)
    assert answer.status_code == 200
    assert decode(answer.content).size == (256, 192)


def test_input_errors(sandbox: SandboxUrls, client: httpx.Client) -> None:
    base = sandbox.backgrounderase
    assert_error(client.post(f"{base}/v2", json={"image_url": "https://example.com/a.jpg"},
                             headers=KEY), 400, "image_url_unsupported")
    assert_error(client.post(f"{base}/v2", json={"format": "png"}, headers=KEY),
                 400, "missing_image")
    assert_error(client.post(f"{base}/v2", json={"image_base64": "@@@"}, headers=KEY),
                 400, "invalid_base64")
    assert_error(post(client, base, b"plain text, not an image"), 415, "unsupported_format")
    assert_error(post(client, base, corrupt_jpeg()), 422, "invalid_image")
    too_big = b"\xff\xd8\xff\xe0" + b"\x00" * (10 * 1024 * 1024)
    assert_error(post(client, base, too_big), 413, "payload_too_large")


def test_health_needs_no_key(sandbox: SandboxUrls, client: httpx.Client) -> None:
    for path in ("/v2/health", "/health"):
        answer = client.get(f"{sandbox.backgrounderase}{path}")
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_fault_injection_skips_health(sandbox: SandboxUrls, client: httpx.Client) -> None:
    base = sandbox.backgrounderase
    fault = {"status": 429, "retry_after": 7}
    client.post(f"{base}/_sandbox/faults", json=fault).raise_for_status()
    assert client.get(f"{base}/health").status_code == 200
    answer = post(client, base, b"not an image")
    assert_error(answer, 429, "rate_limited")
    assert answer.headers["Retry-After"] == "7"
    assert post(client, base, b"not an image").status_code == 415


def test_despill_removes_background_tint_and_keeps_luminance() -> None:
    import cv2

    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = (40, 200, 60)  # green screen
    rgba[10:30, 10:30, :3] = (200, 40, 40)
    rgba[10:30, 10:30, 3] = 255
    rgba[9, 5:35, :3] = (120, 140, 60)  # a half-transparent, green-tinted edge row
    rgba[9, 5:35, 3] = 128
    before = rgba[9, 20, :3].astype(int)
    cleaned = np.asarray(despill(Image.fromarray(rgba, "RGBA")))
    after = cleaned[9, 20, :3].astype(int)
    assert after[1] - after[0] < before[1] - before[0] - 20  # less green than red than before
    lab_before = cv2.cvtColor(rgba[9:10, 20:21, :3], cv2.COLOR_RGB2LAB)[0, 0, 0]
    lab_after = cv2.cvtColor(cleaned[9:10, 20:21, :3].copy(), cv2.COLOR_RGB2LAB)[0, 0, 0]
    assert abs(int(lab_before) - int(lab_after)) <= 8
    assert (cleaned[15, 15] == rgba[15, 15]).all()  # opaque pixels untouched
