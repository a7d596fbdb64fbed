"""The fake rembg server follows `rembg s`: form fields, query-only bgc, 422/500 shapes, PNG."""

from __future__ import annotations

import httpx

from sandbox.server import SandboxUrls
from tests.imaging import decode, encode
from tests.sandbox.helpers import corrupt_jpeg, subject_image


def remove(client: httpx.Client, base: str, image: bytes | None, query: str = "",
           **fields: str) -> httpx.Response:
    files = {"file": ("a.jpg", image, "image/jpeg")} if image is not None else None
    return client.post(f"{base}/api/remove{query}", files=files, data=fields)


def test_cutout_mask_and_background(sandbox: SandboxUrls, client: httpx.Client) -> None:
    image = encode(subject_image(200, 150))

    cutout = remove(client, sandbox.rembg, image, model="isnet-general-use", a="true", af="240")
    mask = remove(client, sandbox.rembg, image, om="true")
    backed = remove(client, sandbox.rembg, image, "?bgc=0,0,255,255", bgc="255,0,0,255")

    for response in (cutout, mask, backed):
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert decode(response.content).size == (200, 150)
    assert decode(cutout.content).mode == "RGBA"
    assert decode(cutout.content).getpixel((0, 0)) == (0, 0, 0, 0)
    assert decode(mask.content).mode == "L"
    corner = decode(backed.content).getpixel((0, 0))
    assert corner == (0, 0, 255, 255)  # the query's bgc; the form's is ignored


def test_validation_and_server_errors(sandbox: SandboxUrls, client: httpx.Client) -> None:
    image = encode(subject_image(64, 48))

    missing = remove(client, sandbox.rembg, None)
    bad_threshold = remove(client, sandbox.rembg, image, af="300")
    contains_name = remove(client, sandbox.rembg, image, model="u2netx")
    undecodable = remove(client, sandbox.rembg, corrupt_jpeg())
    by_url = client.get(f"{sandbox.rembg}/api/remove", params={"url": "http://127.0.0.1/a.jpg"})

    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "file"]
    assert bad_threshold.status_code == 422
    assert contains_name.status_code == 500 and contains_name.text == "Internal Server Error"
    assert undecodable.status_code == 500
    assert by_url.status_code == 400
    assert client.get(f"{sandbox.rembg}/openapi.json").json()["info"]["title"] == "Rembg"
