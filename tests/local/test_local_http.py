"""The local provider with an ONNX model behind the real gateway, over HTTP on loopback."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from gateway.app import create_app
from gateway.settings import parse_settings
from providers.local.choice import EngineChoice
from providers.local.config import LocalConfig
from providers.local.provider import LocalProvider
from tests.fakes import FakeProvider
from tests.local.tiny_models import build
from tests.servers import serve_in_thread
from tests.synthetic import on_plain, trimap_from_alpha

URL = "/v1/remove-background"


def _settings(tmp_path: Path, names: list[str]) -> object:
    providers = {name: {"type": "local", "priority": index + 1}
                 for index, name in enumerate(names)}
    return parse_settings({"providers": providers,
                           "ledger": {"path": str(tmp_path / "usage.sqlite3")},
                           "cache": {"enabled": False}})


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def onnx_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway whose only provider runs a tiny ONNX model (isnet interface)."""
    directory = tmp_path_factory.mktemp("models")
    build(directory / "isnet-general-use.onnx", "isnet", "saliency")
    provider = LocalProvider("local", LocalConfig(model_dir=str(directory)))
    assert provider.choice.engine == "onnx"
    app = create_app(_settings(directory, ["local"]), providers={"local": provider})
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture(scope="module")
def photo() -> tuple[bytes, np.ndarray]:
    """A 320 px product on a plain backdrop (PNG) and its true alpha."""
    image, alpha = on_plain(seed=4, size=320)
    return _png(image), alpha


def _open(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def test_cutout_and_options_with_the_onnx_engine(onnx_gateway: str,
                                                 photo: tuple[bytes, np.ndarray]) -> None:
    data, alpha = photo
    with httpx.Client(base_url=onnx_gateway, timeout=60) as client:
        plain = client.post(URL, files={"image_file": ("p.png", data)})
        cutout = _open(plain)
        assert cutout.mode == "RGBA" and cutout.size == (alpha.shape[1], alpha.shape[0])
        assert plain.headers["x-attempts"] == "local=ok"
        matte = np.asarray(cutout)[..., 3]
        assert matte[0, 0] < 64 and ((matte > 128) == (alpha > 0.5)).mean() > 0.9
        flat = _open(client.post(URL, files={"image_file": ("p.png", data)},
                                 data={"format": "jpg", "bg_color": "#00ff00"}))
        assert flat.format == "JPEG" and flat.getpixel((0, 0))[1] > 240
        single = _open(client.post(URL, files={"image_file": ("p.png", data)},
                                   data={"channels": "alpha", "crop": "true"}))
        assert single.mode == "L" and single.width < alpha.shape[1]
        trimap = trimap_from_alpha(alpha, band=6)
        response = client.post(URL, files={"image_file": ("p.png", data),
                                           "trimap_file": ("t.png", _png(Image.fromarray(trimap)))},
                               data={"channels": "alpha"})
        solved = np.asarray(_open(response))
        assert np.all(solved[trimap == 0] == 0) and np.all(solved[trimap == 255] == 255)
        assert "trimap" not in response.headers["x-emulated"]


@pytest.mark.parametrize(("options", "emulated"), [
    ({"size": "preview"}, {"size"}),
    ({"despill": "true"}, {"despill"}),
    ({"crop": "true", "crop_margin": "5%"}, {"crop", "crop_margin"}),
    ({"format": "webp", "bg_color": "#ff000080"}, {"format", "bg_color"}),
])
def test_every_option_is_emulated_over_the_onnx_matte(
    onnx_gateway: str, photo: tuple[bytes, np.ndarray], options: dict[str, str],
    emulated: set[str],
) -> None:
    response = httpx.post(f"{onnx_gateway}{URL}", files={"image_file": ("p.png", photo[0])},
                          data=options, timeout=60)
    image = _open(response)
    assert set(response.headers["x-emulated"].split(",")) == emulated
    assert image.width <= photo[1].shape[1] and image.height <= photo[1].shape[0]


def test_providers_listing_shows_engine_model_family_licence(onnx_gateway: str) -> None:
    listed = httpx.get(f"{onnx_gateway}/v1/providers", timeout=10).json()["providers"]
    engine = listed[0]["engine"]
    assert engine["engine"] == "onnx" and engine["model"] == "isnet-general-use"
    assert engine["family"] == "isnet" and engine["licence"] == "Apache-2.0"
    assert engine["commercial_use"] is True


class _HeldEngine:
    """An engine that blocks until released: keeps the single inference slot taken."""

    name = "held"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def matte(self, rgb: np.ndarray) -> np.ndarray:
        self.entered.set()
        assert self.release.wait(30)
        return np.full(rgb.shape[:2], 255, np.uint8)


def test_busy_local_falls_over_to_the_next_provider(tmp_path: Path,
                                                    photo: tuple[bytes, np.ndarray]) -> None:
    held = _HeldEngine()
    choice = EngineChoice(engine="classic", reason="test")
    local = LocalProvider("local", LocalConfig(max_concurrency=1, max_queue=0),
                          engine=(held, choice))
    backup = FakeProvider("backup")
    app = create_app(_settings(tmp_path, ["local", "backup"]),
                     providers={"local": local, "backup": backup})
    data = photo[0]

    async def scenario(base: str) -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            first = asyncio.create_task(client.post(URL, files={"image_file": ("p.png", data)}))
            deadline = time.monotonic() + 20
            while not held.entered.is_set():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            second = await client.post(URL, files={"image_file": ("p.png", data)})
            held.release.set()
            return await first, second

    with serve_in_thread(app) as base:
        first, second = asyncio.run(scenario(base))
    assert second.status_code == 200
    assert second.headers["x-attempts"] == "local=busy, backup=ok"
    assert second.headers["x-provider"] == "backup"
    assert first.status_code == 200 and first.headers["x-attempts"] == "local=ok"


def test_only_a_busy_local_is_503_not_502(tmp_path: Path,
                                          photo: tuple[bytes, np.ndarray]) -> None:
    held = _HeldEngine()
    local = LocalProvider("local", LocalConfig(max_concurrency=1, max_queue=0),
                          engine=(held, EngineChoice(engine="classic", reason="test")))
    app = create_app(_settings(tmp_path, ["local"]), providers={"local": local})

    async def scenario(base: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            first = asyncio.create_task(client.post(URL, files={"image_file": ("p.png", photo[0])}))
            while not held.entered.is_set():
                await asyncio.sleep(0.01)
            second = await client.post(URL, files={"image_file": ("p.png", photo[0])})
            held.release.set()
            await first
            return second

    with serve_in_thread(app) as base:
        refused = asyncio.run(scenario(base))
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "no_provider_available"
    assert [a["outcome"] for a in refused.json()["attempts"]] == ["busy"]
