"""The fake Photoroom follows its notes: fields, sizes, error bodies, preview credits, account."""

from __future__ import annotations

import httpx
from litestar.testing import TestClient

from sandbox.options import PHOTOROOM_KEY, SandboxOptions
from sandbox.photoroom import create_photoroom_app
from sandbox.server import SandboxUrls
from tests.imaging import decode, encode
from tests.sandbox.helpers import subject_image

AUTH = {"x-api-key": PHOTOROOM_KEY}


def segment(client: httpx.Client, base: str, data: dict[str, str] | None = None,
            image: bytes | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    files = {"image_file": ("a.jpg", image, "image/jpeg")} if image is not None else None
    return client.post(f"{base}/v1/segment", data=data or {}, files=files,
                       headers=headers if headers is not None else AUTH)


def test_default_is_a_full_size_rgba_png(sandbox: SandboxUrls, client: httpx.Client) -> None:
    response = segment(client, sandbox.photoroom, image=encode(subject_image(256, 192)))

    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = decode(response.content)
    assert (image.mode, image.size) == ("RGBA", (256, 192))
    assert image.getpixel((0, 0))[3] == 0 and image.getpixel((128, 96))[3] == 255
    assert float(response.headers["x-uncertainty-score"]) <= 1


def test_preview_jpg_on_colour_cropped(sandbox: SandboxUrls, client: httpx.Client) -> None:
    fields = {"size": "preview", "format": "jpg", "bg_color": "#FF00FF", "crop": "true"}
    response = segment(client, sandbox.photoroom, fields, encode(subject_image(800, 600)))

    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    image = decode(response.content)
    assert image.mode == "RGB" and image.width * image.height <= 250_000
    assert image.width < 800 * 0.5  # cropped to the subject, then capped


def test_documented_errors(sandbox: SandboxUrls, client: httpx.Client) -> None:
    image = encode(subject_image(64, 48))

    missing = segment(client, sandbox.photoroom, {"format": "png"})
    bare_hex = segment(client, sandbox.photoroom, {"bg_color": "FF00FF"}, image)
    bad_size = segment(client, sandbox.photoroom, {"size": "4k"}, image)
    forbidden = segment(client, sandbox.photoroom, {}, image, {"x-api-key": "wrong"})

    assert missing.status_code == 400 and missing.json() == {
        "detail": "Please provide an image.", "status_code": 400, "type": "missing_image"}
    assert (bare_hex.status_code, bare_hex.json()["type"]) == (400, "invalid_bg_color")
    assert (bad_size.status_code, bad_size.json()["type"]) == (400, "invalid_size")
    assert forbidden.status_code == 403


def test_credits_preview_costs_a_quarter_and_account_reports_it() -> None:
    options = SandboxOptions(photoroom_credits=1.25, instant=True)
    image = encode(subject_image(64, 48))
    with TestClient(create_photoroom_app(options)) as test:
        def call(size: str) -> int:
            return test.post("/v1/segment", data={"size": size}, headers=AUTH,
                             files={"image_file": ("a.jpg", image, "image/jpeg")}).status_code

        statuses = [call("full"), call("preview"), call("full")]
        v1 = test.get("/v1/account", headers=AUTH).json()
        v2 = test.get("/v2/account", headers=AUTH).json()
        keyless = test.get("/v1/account")

    assert statuses == [200, 200, 402]
    assert v1 == {"credits": {"available": 0.0, "subscription": 0.0}}
    assert v2["plan"] == "basic"
    assert keyless.status_code == 400 and keyless.json() == {
        "error": {"message": "apiKey: Required"}}
