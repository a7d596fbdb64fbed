"""The fake Clipdrop follows its notes: Accept-driven format, credit headers, error bodies."""

from __future__ import annotations

import httpx
from PIL import Image

from sandbox.options import CLIPDROP_KEY
from sandbox.server import SandboxUrls
from tests.imaging import decode, encode
from tests.sandbox.helpers import subject_image

AUTH = {"x-api-key": CLIPDROP_KEY}


def remove(client: httpx.Client, base: str, image: bytes | None, accept: str | None = None,
           headers: dict[str, str] | None = None, **fields: str) -> httpx.Response:
    sent = dict(headers if headers is not None else AUTH)
    if accept is not None:
        sent["Accept"] = accept
    files = {"image_file": ("a.png", image, "image/png")} if image is not None else None
    return client.post(f"{base}/remove-background/v1", files=files, data=fields, headers=sent)


def test_accept_picks_the_format_and_credits_are_reported(
    sandbox: SandboxUrls, client: httpx.Client
) -> None:
    image = encode(subject_image(200, 150))

    png = remove(client, sandbox.clipdrop, image, "image/png")
    webp = remove(client, sandbox.clipdrop, image, "image/webp")
    jpg = remove(client, sandbox.clipdrop, image, "image/jpg")
    refused = remove(client, sandbox.clipdrop, image, "text/html")

    assert [r.headers["content-type"] for r in (png, webp, jpg)] == [
        "image/png", "image/webp", "image/jpeg"]
    assert all(decode(r.content).size == (200, 150) for r in (png, webp, jpg))
    assert decode(png.content).getpixel((0, 0))[3] == 0
    assert [r.headers["x-credits-consumed"] for r in (png, webp, jpg)] == ["1", "1", "1"]
    remaining = [float(r.headers["x-remaining-credits"]) for r in (png, webp, jpg)]
    assert remaining[0] - remaining[2] == 2
    assert refused.status_code == 406 and "error" in refused.json()


def test_transparency_handling(sandbox: SandboxUrls, client: httpx.Client) -> None:
    cutout = subject_image(120, 90).convert("RGBA")
    cutout.putpixel((0, 0), (0, 0, 0, 0))
    data = encode(cutout, "PNG")

    returned = remove(client, sandbox.clipdrop, data)
    fresh = remove(client, sandbox.clipdrop, data, transparency_handling="discard_alpha_layer")

    assert returned.content == data
    assert fresh.content != data and decode(fresh.content).size == (120, 90)


def test_documented_errors(sandbox: SandboxUrls, client: httpx.Client) -> None:
    image = encode(subject_image(64, 48))
    big = encode(Image.new("L", (5001, 5001)), "PNG")

    assert remove(client, sandbox.clipdrop, image, headers={}).json() == {
        "error": "No api key provided"}
    assert remove(client, sandbox.clipdrop, image, headers={"x-api-key": "x"}).status_code == 403
    assert remove(client, sandbox.clipdrop, None).status_code == 400
    assert remove(client, sandbox.clipdrop, encode(subject_image(64, 48), "BMP")).status_code == 400
    too_big = remove(client, sandbox.clipdrop, big)
    assert too_big.status_code == 400 and "x-credits-consumed" not in too_big.headers
