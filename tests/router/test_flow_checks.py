"""The flow's checks at the app level: spoilt answers fall over (`bad_answer`), one orientation
for every provider, and routing options checked before the cache."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image, ImageOps

from gateway.app import create_app
from gateway.settings import Settings, parse_settings
from providers.base import Capabilities, Provider, ProviderRequest, ProviderResult
from tests.fakes import FakeProvider
from tests.imaging import decode, encode

URL = "/v1/remove-background"
EVERYTHING = frozenset({"format", "channels", "size", "crop", "crop_margin", "bg_color",
                        "despill"})
WIDTH, HEIGHT = 300, 200


def settings_for(tmp_path: Path, names: list[str], **extra: object) -> Settings:
    """Settings with `names` as configured providers (in priority order), no cache by default."""
    data: dict[str, object] = {
        "providers": {n: {"type": "local", "priority": i} for i, n in enumerate(names)},
        "ledger": {"path": str(tmp_path / "usage.sqlite3")},
        "cache": {"enabled": False},
        **extra,
    }
    return parse_settings(data)


@asynccontextmanager
async def gateway(settings: Settings, providers: Mapping[str, Provider]
                  ) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(settings, providers=dict(providers))) as client:
        yield client


def photo(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    rgb = np.full((height, width, 3), 200, np.uint8)
    rgb[height // 4: -height // 4, width // 4: -width // 4] = (30, 90, 200)
    return encode(Image.fromarray(rgb), "JPEG")


def cutout_png(width: int, height: int) -> bytes:
    image = Image.new("RGBA", (width, height), (30, 90, 200, 255))
    return encode(image, "PNG")


def answer(name: str, data: bytes, final: bool = True) -> ProviderResult:
    return ProviderResult(data=data, media_type="image/png", kind="cutout", provider=name,
                          final=final)


SPOILT = {
    "truncated": lambda: cutout_png(WIDTH, HEIGHT)[:400],
    "wrong-size": lambda: cutout_png(WIDTH // 2, HEIGHT // 2),
    "wrong-format": lambda: encode(Image.new("RGB", (WIDTH, HEIGHT), (1, 2, 3)), "JPEG"),
    "not-an-image": lambda: b"<html>service degraded</html>",
}


@pytest.mark.parametrize("spoil", list(SPOILT))
async def test_a_spoilt_200_falls_over_to_the_next_provider(tmp_path: Path, spoil: str) -> None:
    spoilt = FakeProvider("spoilt", Capabilities(output="cutout", native=EVERYTHING),
                          script=[answer("spoilt", SPOILT[spoil]())])
    good = FakeProvider("good")
    settings = settings_for(tmp_path, ["spoilt", "good"])
    async with gateway(settings, {"spoilt": spoilt, "good": good}) as client:
        response = await client.post(URL, files={"image_file": ("p.jpg", photo())})
        providers = (await client.get("/metrics")).text
    assert response.status_code == 200, response.text
    assert response.headers["x-attempts"] == "spoilt=bad_answer, good=ok"
    assert response.headers["x-provider"] == "good"
    image = decode(response.content)
    assert image.size == (WIDTH, HEIGHT) and image.format == "PNG"
    assert 'outcome="bad_answer"' in providers or "bad_answer" in providers


async def test_spoilt_answers_open_the_circuit(tmp_path: Path) -> None:
    spoilt = FakeProvider("spoilt", Capabilities(output="cutout", native=EVERYTHING),
                          script=[answer("spoilt", SPOILT["truncated"]())] * 3)
    settings = settings_for(tmp_path, ["spoilt", "good"], routing={"allowed_fails": 2})
    async with gateway(settings, {"spoilt": spoilt, "good": FakeProvider("good")}) as client:
        for _ in range(2):
            response = await client.post(URL, files={"image_file": ("p.jpg", photo())})
            assert response.headers["x-attempts"] == "spoilt=bad_answer, good=ok"
        third = await client.post(URL, files={"image_file": ("p.jpg", photo())})
        status = {p["name"]: p for p in (await client.get("/v1/providers")).json()["providers"]}
    assert third.headers["x-attempts"] == "spoilt=skipped:cooldown, good=ok"
    assert status["spoilt"]["circuit"] == "open"


async def test_a_spoilt_answer_with_no_one_left_is_a_502_naming_it(tmp_path: Path) -> None:
    spoilt = FakeProvider("spoilt", Capabilities(output="cutout", native=EVERYTHING),
                          script=[answer("spoilt", SPOILT["wrong-size"]())])
    async with gateway(settings_for(tmp_path, ["spoilt"]), {"spoilt": spoilt}) as client:
        response = await client.post(URL, files={"image_file": ("p.jpg", photo())})
    assert response.status_code == 502
    assert response.json()["code"] == "provider_error"
    assert response.headers["x-attempts"] == "spoilt=bad_answer"


# --- one orientation -------------------------------------------------------------------------

class ExifProvider:
    """A vendor answering an opaque cutout of what it decodes: with or without EXIF applied."""

    def __init__(self, name: str, honours_exif: bool, final: bool) -> None:
        self.name = name
        self.honours_exif, self.final = honours_exif, final
        native = EVERYTHING if final else frozenset()
        self.capabilities = Capabilities(output="cutout", native=native)
        self.seen: list[tuple[int, int]] = []

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        with Image.open(io.BytesIO(request.image)) as opened:
            image = ImageOps.exif_transpose(opened) if self.honours_exif else opened.copy()
        self.seen.append(image.size)
        rgba = image.convert("RGBA")
        return ProviderResult(data=encode(rgba, "PNG"), media_type="image/png", kind="cutout",
                              provider=self.name, final=self.final)

    async def aclose(self) -> None:
        """Nothing to close."""


def rotated_photo() -> bytes:
    """Stored 300x200 with a red corner at the stored top-left, EXIF orientation 6."""
    rgb = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    rgb[:30, :30] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(Image.fromarray(rgb), "JPEG", quality=95, exif=exif.tobytes())


@pytest.mark.parametrize("final", [True, False], ids=["pass-through", "post-processed"])
@pytest.mark.parametrize("honours", [True, False], ids=["applies-exif", "ignores-exif"])
async def test_every_provider_answers_in_the_displayed_orientation(
    tmp_path: Path, honours: bool, final: bool
) -> None:
    vendor = ExifProvider("v", honours, final)
    async with gateway(settings_for(tmp_path, ["v"]), {"v": vendor}) as client:
        response = await client.post(URL, files={"image_file": ("p.jpg", rotated_photo())})
    assert response.status_code == 200, response.text
    image = np.asarray(decode(response.content).convert("RGB"))
    # orientation 6 shows the image turned: 200 wide, 300 high, the red corner top-right
    assert image.shape[:2] == (WIDTH, HEIGHT)
    assert (response.headers["x-width"], response.headers["x-height"]) == ("200", "300")
    assert image[10, -10, 0] > 200 and image[10, -10, 1] < 60
    assert image[10, 10, 0] < 160
    assert vendor.seen == [(HEIGHT, WIDTH)]  # the vendor was sent the upright image


# --- options before the cache ----------------------------------------------------------------

async def test_routing_options_are_checked_before_the_cache(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ["a", "b"], cache={"enabled": True})
    a, b = FakeProvider("a"), FakeProvider("b")
    async with gateway(settings, {"a": a, "b": b}) as client:
        files = {"image_file": ("p.jpg", photo())}
        first = await client.post(URL, files=files)
        again = await client.post(URL, files=files)
        override = await client.post(URL, files=files, data={"policy": "cheapest"})
        unknown = await client.post(URL, files=files, data={"providers": "nosuch"})
        only_b = await client.post(URL, files=files, data={"providers": "b"})
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert first.headers["x-provider"] == again.headers["x-provider"] == "a"
    assert override.status_code == 400 and override.json()["code"] == "invalid_option"
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_option"
    # a's cached answer does not satisfy `providers=b`: b makes a fresh one
    assert only_b.status_code == 200 and only_b.headers["x-provider"] == "b"
    assert only_b.headers["x-cache"] == "miss" and len(b.calls) == 1
