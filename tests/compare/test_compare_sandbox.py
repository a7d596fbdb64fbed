"""`POST /v1/compare` over the sandbox vendors and the real local engine, with ground truth."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from gateway.compare.sheet import sheet_size
from sandbox.options import BACKGROUNDCUT_KEY, BACKGROUNDERASE_KEY, WITHOUTBG_KEY
from sandbox.server import SandboxUrls, running_sandbox
from tests.compare.conftest import compare_app, compare_settings, png
from tests.imaging import decode
from tests.synthetic import on_plain

VENDORS = ("withoutbg", "backgrounderase", "backgroundcut")
#: Set to a path to keep the sandbox contact sheet for a look by eye.
SHEET_OUT = os.environ.get("BG_COMPARE_SHEET_OUT")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxUrls]:
    """The three fake vendors on free loopback ports."""
    with running_sandbox() as urls:
        yield urls


def sandbox_providers(urls: SandboxUrls) -> dict[str, dict[str, str]]:
    keys = {"withoutbg": WITHOUTBG_KEY, "backgrounderase": BACKGROUNDERASE_KEY,
            "backgroundcut": BACKGROUNDCUT_KEY}
    vendors = {name: {"type": name, "api_key": keys[name], "base_url": getattr(urls, name)}
               for name in VENDORS}
    return {"local": {"type": "local"}, **vendors}


def trimap_of(truth: np.ndarray, band: int = 4) -> np.ndarray:
    """Known background/foreground from the truth, an unknown band `band` px around the edge."""
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    sure_fg = cv2.erode((truth > 0.99).astype(np.uint8), kernel)
    maybe_fg = cv2.dilate((truth > 0.01).astype(np.uint8), kernel)
    trimap = np.full(truth.shape, 128, np.uint8)
    trimap[maybe_fg == 0] = 0
    trimap[sure_fg == 1] = 255
    return trimap


def jpeg(image: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)  # type: ignore[attr-defined]
    return buffer.getvalue()


async def test_every_provider_is_scored_against_the_ground_truth(
    tmp_path: Path, sandbox: SandboxUrls,
) -> None:
    image, truth = on_plain(seed=3, size=128)
    trimap = ("t.png", png(trimap_of(truth)))
    settings = compare_settings(tmp_path, sandbox_providers(sandbox))
    async with AsyncTestClient(app=compare_app(settings, None), timeout=120) as client:
        response = await client.post("/v1/compare", files={
            "image_file": ("p.jpg", jpeg(image)), "trimap_file": trimap,
            "ground_truth": ("p.alpha.png", png((truth * 255).round().astype(np.uint8))),
        })
        sheet = await client.post("/v1/compare?sheet=true&tile=96",
                                  files={"image_file": ("p.jpg", jpeg(image)),
                                         "trimap_file": trimap})
    assert response.status_code == 200, response.text
    rows = {row["provider"]: row for row in response.json()["providers"]}
    assert set(rows) == {"local", *VENDORS}
    for name, row in rows.items():
        assert row["status"] == "ok", (name, row)
        assert (row["width"], row["height"]) == image.size
        quality = row["quality"]
        assert quality["region"] == "unknown"  # scored on the trimap's band
        # Every engine finds the product on a plain backdrop; the scores are finite and sane.
        assert quality["iou"] > 0.8, (name, quality)
        assert 0 <= quality["sad"] < 0.2 * image.width * image.height / 1000, (name, quality)
        assert quality["mse"] < 0.05 and quality["gradient"] >= 0
    assert sheet.status_code == 200
    picture = decode(sheet.content)
    assert picture.size == sheet_size(*image.size, rows=4, tile=96)
    if SHEET_OUT:
        picture.save(SHEET_OUT)
