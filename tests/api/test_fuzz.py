"""Seeded random junk at every removal route: never a 500, always a structured error or an image."""

from __future__ import annotations

import base64
import random

import pytest
from litestar.testing import AsyncTestClient

from tests.api.test_bad_input import JPEG

ROUTES = ("/v1/remove-background", "/v2", "/v1.0/removebg", "/v1.0/image-without-background",
          "/v1.0/alpha-channel-base64", "/v1/compare")
KEYS = ("format", "channels", "size", "crop", "crop_margin", "bg_color", "despill", "provider",
        "providers", "fallback", "policy", "image_base64", "image_url", "trimap_base64", "Format",
        "SIZE", "sheet", "ground_truth", "experiment", "image", "x")
VALUES = ("", "png", "jpg", "gif", "alpha", "rgba", "preview", "huge", "true", "maybe", "-5px",
          "5%", "120%", "#fff", "#12345", "red", "notacolour", "fake", "nope,fake", "priority",
          "data:image/png;base64,AAAA", "http://127.0.0.1:1/x", "ftp://x", "\x00\xff", "9" * 300)


def junk_bytes(rng: random.Random) -> bytes:
    """Random bytes, sometimes behind a real image's magic number, sometimes a cut real JPEG."""
    choice = rng.randrange(4)
    if choice == 0:
        return rng.randbytes(rng.randrange(0, 300))
    if choice == 1:
        return JPEG[: rng.randrange(1, len(JPEG))]
    if choice == 2:
        return rng.choice([b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP",
                           b"II*\x00", b"BM"]) + rng.randbytes(rng.randrange(0, 200))
    return JPEG


@pytest.mark.parametrize("seed", range(60))
async def test_random_requests_never_crash(client: AsyncTestClient, seed: int) -> None:
    rng = random.Random(seed)
    route = rng.choice(ROUTES)
    fields = {rng.choice(KEYS): rng.choice(VALUES) for _ in range(rng.randrange(0, 5))}
    if rng.random() < 0.5:
        name = rng.choice(("image_file", "file", "image", "trimap_file", "other"))
        response = await client.post(route, data=fields, files={name: ("x", junk_bytes(rng))})
    elif rng.random() < 0.5:
        response = await client.post(route, json=fields)
    else:
        response = await client.post(route, content=junk_bytes(rng),
                                     headers={"content-type": rng.choice(
                                         ("application/json", "image/jpeg", "text/plain"))})
    assert response.status_code < 500 or response.status_code in (502, 503, 504), response.text
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(("application/problem+json",
                                                             "application/json"))


def hostile_json(rng: random.Random) -> bytes:
    """A JSON body built to hurt a parser: deep nesting, many keys, long or odd values."""
    choice = rng.randrange(4)
    if choice == 0:  # nested lists/objects, 10 to 3,000 deep, sometimes unclosed
        depth = rng.randrange(10, 3000)
        opens = "".join(rng.choice(('[', '{"a":')) for _ in range(depth))
        closes = "".join("]" if c == "[" else "}" for c in reversed(opens.replace('{"a":', "{")))
        body = '{"format": ' + opens + "1" + closes[: rng.randrange(len(closes) + 1)] + "}"
    elif choice == 1:  # thousands of keys
        body = "{" + ",".join(f'"k{i}": {i}' for i in range(rng.randrange(50, 5000))) + "}"
    elif choice == 2:  # a wide array as a value
        body = '{"image_base64": [' + ",".join("1" for _ in range(rng.randrange(1, 40000))) + "]}"
    else:  # valid image plus a deep value under an unknown key
        body = ('{"image_base64": "' + base64.b64encode(JPEG).decode() + '", "x": '
                + "[" * 40 + "]" * 40 + "}")
    return body.encode()


@pytest.mark.parametrize("seed", range(16))
async def test_hostile_bodies_never_crash(client: AsyncTestClient, seed: int) -> None:
    rng = random.Random(1000 + seed)
    route = rng.choice(ROUTES)
    if rng.random() < 0.6:
        response = await client.post(route, content=hostile_json(rng),
                                     headers={"content-type": "application/json"})
    else:
        parts = {f"f{i}": "1" for i in range(rng.randrange(50, 400))}
        response = await client.post(route, data=parts, files={"image_file": ("a.jpg", JPEG)})
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text and "Recursion" not in response.text
    assert response.headers["content-type"].startswith(("application/problem+json",
                                                         "application/json", "image/"))
