"""The remove.bg (example 2), Photoroom and Clipdrop notes' example requests over real HTTP.

The gateway runs under uvicorn on loopback with the real local engine; the requests are made
with `requests` as the vendors' samples do, changing only the base URL and the key.
"""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from litestar import Litestar, Response, get
from PIL import Image

from tests.dropin.conftest import CLIENT_KEY, client_auth, dropin_app, dropin_settings
from tests.imaging import encode
from tests.servers import serve_in_thread
from tests.synthetic import iou, on_plain

requests = pytest.importorskip("requests")


@pytest.fixture(scope="module")
def product() -> tuple[bytes, np.ndarray]:
    """A 192 px product JPEG and its true alpha."""
    image, truth = on_plain(6, size=192)
    return encode(image, "JPEG", quality=95), truth


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, product) -> Iterator[str]:
    """The gateway (local engine, one client key, loopback URLs allowed) and a file server."""
    settings = dropin_settings(tmp_path_factory.mktemp("gateway"), {
        **client_auth(monthly_quota=100), "providers": {"local": {"type": "local"}},
        "fetch": {"allow_private": True}})

    @get("/car.jpg")
    async def car() -> Response[bytes]:
        return Response(product[0], media_type="image/jpeg")

    with serve_in_thread(dropin_app(settings, None)) as url, \
            serve_in_thread(Litestar([car])) as files:
        yield f"{url}|{files}"


def urls(base_url: str) -> tuple[str, str]:
    """(gateway, file server)."""
    gateway, files = base_url.split("|")
    return gateway, files


def test_removebg_example_2_zip(base_url: str, product) -> None:
    """JSON image_url + preview + zip + type=car with Accept JSON -> a ZIP in result_b64."""
    gateway, files = urls(base_url)
    answer = requests.post(
        f"{gateway}/v1.0/removebg",
        headers={"X-Api-Key": CLIENT_KEY, "Accept": "application/json"},
        json={"image_url": f"{files}/car.jpg", "size": "preview", "format": "zip",
              "type": "car"}, timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Type"] == "car"
    assert answer.headers["X-Credits-Charged"] == "0"  # the local engine is free
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(answer.json()["data"]["result_b64"])))
    matte = np.asarray(Image.open(io.BytesIO(archive.read("alpha.png"))))
    assert iou(matte, product[1]) > 0.85
    assert Image.open(io.BytesIO(archive.read("color.jpg"))).mode == "RGB"


def test_photoroom_examples(base_url: str, product, tmp_path: Path) -> None:
    """Photoroom's sample: `x-api-key` + `image_file` -> PNG; then example 2's fields."""
    gateway, _ = urls(base_url)
    (tmp_path / "photo.jpg").write_bytes(product[0])
    with open(tmp_path / "photo.jpg", "rb") as image_file:
        response = requests.post(f"{gateway}/v1/segment", headers={"x-api-key": CLIENT_KEY},
                                 files={"image_file": image_file}, timeout=60)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    cutout = Image.open(io.BytesIO(response.content))
    assert iou(np.asarray(cutout.getchannel("A")), product[1]) > 0.85
    assert -1 <= float(response.headers["x-uncertainty-score"]) <= 1
    with open(tmp_path / "photo.jpg", "rb") as image_file:
        small = requests.post(
            f"{gateway}/v1/segment", headers={"x-api-key": CLIENT_KEY},
            files={"image_file": ("photo.jpg", image_file, "image/jpeg")},
            data={"size": "preview", "format": "jpg", "bg_color": "#FFFFFF", "crop": "true"},
            timeout=60,
        )
    assert small.headers["Content-Type"] == "image/jpeg"
    trimmed = Image.open(io.BytesIO(small.content))
    assert trimmed.width < cutout.width and trimmed.getpixel((0, 0)) >= (240, 240, 240)
    missing = requests.post(f"{gateway}/v1/segment", headers={"x-api-key": CLIENT_KEY},
                            timeout=60)
    assert missing.json() == {"detail": "Please provide an image.", "status_code": 400,
                              "type": "missing_image"}


def test_clipdrop_examples(base_url: str, product) -> None:
    """Clipdrop: no Accept -> PNG of the input size with the credit headers; webp; 406."""
    gateway, _ = urls(base_url)
    files = {"image_file": ("car.jpg", product[0], "image/jpeg")}
    response = requests.post(f"{gateway}/remove-background/v1",
                             headers={"x-api-key": CLIENT_KEY}, files=files, timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (product[1].shape[1], product[1].shape[0])
    assert iou(np.asarray(image.getchannel("A")), product[1]) > 0.85
    assert response.headers["x-credits-consumed"] == "0"
    left = float(response.headers["x-remaining-credits"])
    webp = requests.post(f"{gateway}/remove-background/v1",
                         headers={"x-api-key": CLIENT_KEY, "Accept": "image/webp"},
                         files=files, data={"transparency_handling": "discard_alpha_layer"},
                         timeout=60)
    assert webp.headers["content-type"] == "image/webp"
    assert float(webp.headers["x-remaining-credits"]) == left - 1
    refused = requests.post(f"{gateway}/remove-background/v1",
                            headers={"x-api-key": CLIENT_KEY, "Accept": "text/html"},
                            files=files, timeout=60)
    assert refused.status_code == 406 and "error" in refused.json()
    anonymous = requests.post(f"{gateway}/remove-background/v1", files=files, timeout=60)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "No api key provided"}
