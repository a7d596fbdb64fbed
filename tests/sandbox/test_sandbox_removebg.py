"""The fake remove.bg follows its notes: encodings, sizes, headers, error envelope, credits."""

from __future__ import annotations

import base64
import io
import zipfile

import httpx
from litestar.testing import TestClient
from PIL import Image

from sandbox.options import REMOVEBG_KEY, SandboxOptions
from sandbox.removebg import create_removebg_app
from sandbox.server import SandboxUrls
from tests.imaging import decode, encode
from tests.sandbox.helpers import corrupt_jpeg, subject_image

AUTH = {"X-Api-Key": REMOVEBG_KEY}


def post(client: httpx.Client, base: str, data: dict[str, str] | None = None,
         image: bytes | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    files = {"image_file": ("a.jpg", image, "image/jpeg")} if image is not None else None
    return client.post(f"{base}/v1.0/removebg", data=data or {}, files=files,
                       headers=headers if headers is not None else AUTH)


def codes(response: httpx.Response) -> list[str | None]:
    return [error.get("code") for error in response.json()["errors"]]


def test_default_is_a_preview_with_the_documented_headers(
    sandbox: SandboxUrls, client: httpx.Client
) -> None:
    response = post(client, sandbox.removebg, image=encode(subject_image(800, 600)))

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"  # format=auto, transparent pixels
    image = decode(response.content)
    assert image.width * image.height <= 250_000 and abs(image.width / image.height - 4 / 3) < 0.01
    assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0
    headers = response.headers
    assert headers["x-credits-charged"] == "0.25"
    assert (headers["x-width"], headers["x-height"]) == (str(image.width), str(image.height))
    assert headers["x-type"] == "product"
    assert int(headers["x-foreground-width"]) > 0 and int(headers["x-ratelimit-limit"]) == 500
    assert int(headers["x-ratelimit-remaining"]) == 499  # 0.48 MP costs one unit


def test_full_size_jpg_crop_on_colour(sandbox: SandboxUrls, client: httpx.Client) -> None:
    fields = {"size": "full", "format": "jpg", "crop": "true", "crop_margin": "10px",
              "bg_color": "0000ff", "type": "person", "type_level": "none"}
    response = post(client, sandbox.removebg, fields, encode(subject_image(256, 192)))

    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-credits-charged"] == "1"
    assert "x-type" not in response.headers
    image = decode(response.content)
    assert image.mode == "RGB" and image.width < 256 and image.height < 192
    red, green, blue = image.getpixel((0, 0))
    assert blue > 200 and red < 60 and green < 60


def test_json_body_base64_and_json_answer(sandbox: SandboxUrls, client: httpx.Client) -> None:
    data = "data:image/jpeg;base64," + base64.b64encode(encode(subject_image(128, 96))).decode()
    response = client.post(f"{sandbox.removebg}/v1.0/removebg",
                           json={"image_file_b64": data, "size": "auto", "format": "zip"},
                           headers={**AUTH, "Accept": "application/json"})

    assert response.status_code == 200
    body = response.json()["data"]
    assert {"result_b64", "foreground_top", "foreground_left", "foreground_width",
            "foreground_height"} <= set(body)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(body["result_b64"]))) as archive:
        assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
        assert decode(archive.read("alpha.png")).mode == "L"


def test_documented_400s(sandbox: SandboxUrls, client: httpx.Client) -> None:
    image = encode(subject_image(64, 48))
    cases = [
        (post(client, sandbox.removebg, {}), "missing_source"),
        (post(client, sandbox.removebg, {"image_url": "https://example.com/a.jpg"}, image),
         "multiple_sources"),
        (post(client, sandbox.removebg, {"image_url": "https://example.com/a.jpg"}),
         "failed_image_download"),
        (post(client, sandbox.removebg, {"size": "huge"}, image), "invalid_size"),
        (post(client, sandbox.removebg, {"crop": "true", "crop_margin": "1px 2px 3px"}, image),
         "invalid_crop_margin"),
        (post(client, sandbox.removebg, {"bg_color": "nope"}, image), "invalid_bg_color"),
        (post(client, sandbox.removebg, {}, corrupt_jpeg()), "failed_to_read_image"),
    ]
    for response, code in cases:
        assert response.status_code == 400, code
        assert response.headers["content-type"].startswith("application/json")
        assert codes(response) == [code]
        assert "x-credits-charged" not in response.headers


def test_auth_failures_are_403(sandbox: SandboxUrls, client: httpx.Client) -> None:
    image = encode(subject_image(64, 48))
    for headers in ({}, {"X-Api-Key": "wrong"},
                    {**AUTH, "Authorization": "Bearer token"}):
        response = post(client, sandbox.removebg, {}, image, headers)
        assert response.status_code == 403 and codes(response) == ["auth_failed"]
    assert client.get(f"{sandbox.removebg}/v1.0/account").status_code == 403


def test_credits_run_out_and_the_window_fills() -> None:
    options = SandboxOptions(removebg_credits=1.0, removebg_rate_limit="2/minute", instant=True)
    image = encode(subject_image(64, 48))
    with TestClient(create_removebg_app(options)) as test:
        def call(size: str) -> httpx.Response:
            return test.post("/v1.0/removebg", data={"size": size}, headers=AUTH,
                             files={"image_file": ("a.jpg", image, "image/jpeg")})

        statuses = [call("full").status_code, call("preview").status_code]
        account = test.get("/v1.0/account", headers=AUTH).json()
        limited = call("preview")

    assert statuses == [200, 402]
    assert account["data"]["attributes"]["credits"]["total"] == 0
    assert limited.status_code == 429 and codes(limited) == ["rate_limit_exceeded"]
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-ratelimit-remaining"] == "0"


def test_roi_placement_shadow_and_background_image(
    sandbox: SandboxUrls, client: httpx.Client
) -> None:
    image = encode(subject_image(256, 192))
    blue = encode(Image.new("RGB", (40, 30), (0, 0, 255)), "PNG")

    left_half = post(client, sandbox.removebg, {"size": "full", "roi": "0 0 50% 100%"}, image)
    placed = post(client, sandbox.removebg, {"size": "full", "scale": "50%"}, image)
    shadowed = post(client, sandbox.removebg, {"size": "full", "shadow_type": "drop"}, image)
    plain = post(client, sandbox.removebg, {"size": "full"}, image)
    backed = client.post(f"{sandbox.removebg}/v1.0/removebg", headers=AUTH,
                         data={"size": "full", "format": "jpg"},
                         files={"image_file": ("a.jpg", image, "image/jpeg"),
                                "bg_image_file": ("b.png", blue, "image/png")})

    for response in (left_half, placed, shadowed, plain, backed):
        assert response.status_code == 200, response.text
    right = decode(left_half.content).getchannel("A").crop((130, 0, 256, 192))
    assert right.getextrema() == (0, 0)
    box = {name: int(plain.headers[f"x-foreground-{name}"])
           for name in ("left", "top", "width", "height")}
    placed_width = int(placed.headers["x-foreground-width"])
    assert placed_width < box["width"]
    centre = int(placed.headers["x-foreground-left"]) + placed_width / 2
    assert abs(centre - 128) < 8  # a scale without position is centred
    below = (box["left"] + box["width"] // 2, box["top"] + box["height"] + 1)
    assert decode(shadowed.content).getpixel(below)[3] > decode(plain.content).getpixel(below)[3]
    red, green, blue_ = decode(backed.content).getpixel((0, 0))
    assert blue_ > 200 and red < 50 and green < 50


def test_placement_field_errors(sandbox: SandboxUrls, client: httpx.Client) -> None:
    image = encode(subject_image(64, 48))
    cases = [({"roi": "0 0 100px 10px"}, "roi_exceeds_bounds"),
             ({"roi": "10 10 10 40"}, "roi_region_empty"), ({"roi": "1 2 3"}, "invalid_roi"),
             ({"scale": "5%"}, "invalid_scale"), ({"position": "left"}, "invalid_position"),
             ({"shadow_opacity": "101", "shadow_type": "drop"}, "invalid_shadow_opacity")]
    for fields, code in cases:
        response = post(client, sandbox.removebg, fields, image)
        assert (response.status_code, codes(response)) == (400, [code]), fields
