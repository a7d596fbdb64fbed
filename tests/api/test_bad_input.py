"""Every bad input gets a clear problem+json with the right code, and no provider is called."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from tests.fakes import FakeProvider
from tests.imaging import encode
from tests.postprocess.pp_images import png_header_only

URL = "/v1/remove-background"


def photo(width: int = 96, height: int = 64) -> Image.Image:
    """A small RGB photo with a subject in the middle."""
    rgb = np.full((height, width, 3), 235, np.uint8)
    rgb[height // 4: -height // 4, width // 4: -width // 4] = (200, 40, 40)
    return Image.fromarray(rgb)


JPEG = encode(photo(), "JPEG")


def assert_problem(response, status: int, code: str, mentions: str = "") -> dict:
    """The answer is problem+json with `status`, `code` and a detail mentioning `mentions`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["title"] and body["type"].endswith(code)
    assert mentions.lower() in body["detail"].lower()
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("files", "data", "status", "code", "mentions"),
    [
        ({"image_file": ("a.jpg", b"")}, {}, 422, "invalid_image", ""),
        ({"other": ("a.jpg", JPEG)}, {}, 400, "missing_image", "image_file"),
        ({"image_file": ("a.jpg", b"just some text, not a picture")}, {}, 415,
         "unsupported_media_type", "JPEG"),
        ({"image_file": ("a.jpg", JPEG[: len(JPEG) // 2])}, {}, 422, "invalid_image", ""),
        ({"image_file": ("a.png", png_header_only(60000, 60000))}, {}, 422,
         "image_too_large", ""),
        ({"image_file": ("a.jpg", JPEG)}, {"format": "gif"}, 400, "invalid_option", "format"),
        ({"image_file": ("a.jpg", JPEG)}, {"size": "huge"}, 400, "invalid_option", "size"),
        ({"image_file": ("a.jpg", JPEG)}, {"bg_color": "notacolour"}, 400, "invalid_option",
         "bg_color"),
        ({"image_file": ("a.jpg", JPEG)}, {"crop_margin": "-5px"}, 400, "invalid_option",
         "crop_margin"),
        ({"image_file": ("a.jpg", JPEG)}, {"despill": "maybe"}, 400, "invalid_option", "despill"),
        ({"image_file": ("a.jpg", JPEG)}, {"fromat": "jpg"}, 400, "invalid_option", "fromat"),
        ({"image_file": ("a.jpg", JPEG), "trimap_file": ("t.png", encode(photo(50, 50), "PNG"))},
         {}, 422, "trimap_mismatch", ""),
        ({"image_file": ("a.jpg", JPEG), "trimap_file": ("t.png", b"garbage")},
         {}, 422, "trimap_mismatch", ""),
    ],
    ids=["zero-bytes", "no-image-field", "text-as-jpg", "truncated-jpeg", "png-bomb-header",
         "format-gif", "size-huge", "bad-colour", "negative-margin", "bad-bool",
         "unknown-option", "trimap-size", "trimap-garbage"],
)
async def test_bad_multipart_input(client: AsyncTestClient, fake: FakeProvider, files: dict,
                                   data: dict, status: int, code: str, mentions: str) -> None:
    response = await client.post(URL, files=files, data=data)
    assert_problem(response, status, code, mentions)
    assert fake.calls == []


async def test_upload_over_limit_is_413(client: AsyncTestClient, fake: FakeProvider) -> None:
    big = b"\xff\xd8\xff" + bytes(12 * 1024 * 1024)
    response = await client.post(URL, files={"image_file": ("big.jpg", big)})
    assert_problem(response, 413, "payload_too_large")
    assert fake.calls == []


async def test_malformed_base64(client: AsyncTestClient, fake: FakeProvider) -> None:
    response = await client.post(URL, json={"image_base64": "not*base64!"})
    assert_problem(response, 400, "invalid_option", "image_base64")
    assert fake.calls == []


async def test_malformed_json(client: AsyncTestClient) -> None:
    response = await client.post(URL, content=b"{nope",
                                 headers={"content-type": "application/json"})
    assert_problem(response, 400, "invalid_option", "json")


async def test_json_without_image(client: AsyncTestClient) -> None:
    response = await client.post(URL, json={"format": "png"})
    assert_problem(response, 400, "missing_image")


async def test_unknown_route_and_method_are_problems(client: AsyncTestClient) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "not_found")
    assert_problem(await client.get(URL), 405, "method_not_allowed")


async def test_private_image_url_is_refused(client: AsyncTestClient, fake: FakeProvider) -> None:
    response = await client.post(URL, json={"image_url": "http://127.0.0.1:1/x.jpg"})
    assert_problem(response, 400, "invalid_image_url", "private")
    assert fake.calls == []


@pytest.mark.parametrize("fmt", ["TIFF", "BMP", "GIF", "WEBP", "PNG16", "CMYK", "PALETTE"])
async def test_other_formats_are_accepted(client: AsyncTestClient, fmt: str) -> None:
    image = photo()
    if fmt == "PNG16":
        data = encode(Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257), "PNG")
    elif fmt == "CMYK":
        data = encode(image.convert("CMYK"), "JPEG")
    elif fmt == "PALETTE":
        data = encode(image.convert("P"), "PNG")
    else:
        data = encode(image, fmt)
    response = await client.post(URL, files={"image_file": ("x", data)})
    assert response.status_code == 200, response.text
    out = Image.open(io.BytesIO(response.content))
    assert out.mode == "RGBA" and out.size == (96, 64)


async def test_exif_rotation_is_applied(client: AsyncTestClient) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    data = encode(photo(96, 64), "JPEG", exif=exif.tobytes())
    response = await client.post(URL, files={"image_file": ("r.jpg", data)})
    assert response.status_code == 200, response.text
    assert Image.open(io.BytesIO(response.content)).size == (64, 96)
    assert (response.headers["x-width"], response.headers["x-height"]) == ("64", "96")


async def test_data_url_prefix_is_accepted(client: AsyncTestClient) -> None:
    encoded = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    response = await client.post(URL, json={"image_base64": encoded})
    assert response.status_code == 200, response.text
