"""roi, scale, position, shadow, bg_image_*, format=zip and X-Foreground-* through the real API.

Each geometry test runs on two providers: `native`, a FakeProvider that declares every option
natively (the options reach it in its request; nothing is listed in X-Emulated), and the real
`local` engine, which does none of them (everything is emulated and listed).
"""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from litestar import Litestar, Response, get
from litestar.testing import AsyncTestClient
from PIL import Image

from gateway.app import create_app
from providers.base import OPTION_NAMES, Capabilities
from providers.local.config import LocalConfig
from providers.local.provider import LocalProvider
from sandbox.options import REMOVEBG_KEY, SandboxOptions
from sandbox.removebg import create_removebg_app
from tests.api.conftest import gateway_settings
from tests.fakes import FakeProvider
from tests.imaging import decode, encode
from tests.servers import serve_in_thread
from tests.synthetic import on_plain

URL = "/v1/remove-background"
NEW = ("roi", "scale", "position", "shadow", "bg_image", "zip")
Box = tuple[int, int, int, int]


class Gateway:
    """A test client over the app with one provider, and what that provider is."""

    def __init__(self, client: AsyncTestClient, fake: FakeProvider | None) -> None:
        self.client = client
        self.fake = fake

    @property
    def emulates(self) -> bool:
        """True for `local` (does none of the new options itself)."""
        return self.fake is None


@pytest.fixture(scope="module")
def product() -> tuple[bytes, np.ndarray]:
    """A 160 px product photo (JPEG) and its true alpha."""
    image, alpha = on_plain(seed=5, size=160)
    return encode(image, "JPEG", quality=95), alpha


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """An opaque PNG of one colour."""
    return encode(Image.new("RGB", (width, height), rgb), "PNG")


@pytest.fixture(params=["native", "local"])
async def gw(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    """The gateway with either the native-capable fake or the real local engine."""
    fake = None
    if request.param == "native":
        fake = FakeProvider("native", Capabilities(output="cutout",
                                                   native=frozenset(OPTION_NAMES)))
        provider = fake
    else:
        provider = LocalProvider("local", LocalConfig())  # type: ignore[assignment]
    settings = gateway_settings(tmp_path, {"fetch": {"allow_private": True}})
    app = create_app(settings, providers={request.param: provider})
    async with AsyncTestClient(app=app, timeout=120) as client:
        yield Gateway(client, fake)


async def post(gw: Gateway, image: bytes, files: dict | None = None, **data: str):
    """POST the image with options as form fields; the answer must be a 200."""
    response = await gw.client.post(
        URL, files={"image_file": ("p.jpg", image), **(files or {})}, data=data
    )
    assert response.status_code == 200, response.text
    return response


def box_of(alpha: np.ndarray, threshold: int = 10) -> Box:
    """(left, top, width, height) of alpha > threshold."""
    rows = np.flatnonzero((alpha > threshold).any(axis=1))
    cols = np.flatnonzero((alpha > threshold).any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def header_box(headers) -> Box:
    """X-Foreground-Left/Top/Width/Height as (left, top, width, height)."""
    return tuple(int(headers[f"x-foreground-{n}"]) for n in ("left", "top", "width", "height"))  # type: ignore[return-value]


def alpha_of(response) -> np.ndarray:
    """The answer's alpha channel."""
    return np.asarray(decode(response.content).getchannel("A"))


def check_emulated(gw: Gateway, response, names: set[str]) -> None:
    """`local` lists `names` in X-Emulated; the native fake lists none and got them natively."""
    listed = set(filter(None, response.headers["x-emulated"].split(",")))
    if gw.emulates:
        assert names <= listed
    else:
        assert not listed & set(NEW)
        assert gw.fake is not None
        assert names <= gw.fake.calls[-1].options.requested()


async def reference(gw: Gateway, image: bytes) -> Box:
    """The plain cut-out's subject box (headers and pixels must agree)."""
    response = await post(gw, image)
    box = box_of(alpha_of(response))
    assert header_box(response.headers) == box
    return box


async def test_foreground_box_is_the_subject(gw: Gateway, product) -> None:
    image, truth = product
    box = await reference(gw, image)
    height, width = truth.shape
    expected = (width // 4, height // 4, width - 2 * (width // 4), height - 2 * (height // 4))
    if gw.emulates:
        expected = box_of((truth * 255).astype(np.uint8), 127)
    assert np.abs(np.subtract(box, expected)).max() <= 4


async def test_scale_and_position(gw: Gateway, product) -> None:
    image, truth = product
    height, width = truth.shape
    _, _, w, h = await reference(gw, image)
    response = await post(gw, image, scale="50%", position="0% 100%")
    got = box_of(alpha_of(response))
    assert header_box(response.headers) == got
    factor = 0.5 * min(width / w, height / h)
    assert abs(got[2] - w * factor) <= 3 and abs(got[3] - h * factor) <= 3
    assert got[0] <= 2 and abs(got[1] + got[3] - height) <= 2
    check_emulated(gw, response, {"scale", "position"})
    # scale alone centres the subject (remove.bg: scale implies position=center).
    centred = box_of(alpha_of(await post(gw, image, scale="80%")))
    assert abs(centred[0] + centred[2] / 2 - width / 2) <= 2
    assert abs(centred[1] + centred[3] / 2 - height / 2) <= 2


async def test_roi_keeps_only_the_subject_inside(gw: Gateway, product) -> None:
    image, truth = product
    width = truth.shape[1]
    left, _, w, _ = await reference(gw, image)
    cut = left + w // 2
    response = await post(gw, image, roi=f"0px 0px {cut}px 100%")
    alpha = alpha_of(response)
    assert not alpha[:, cut:].any()
    assert box_of(alpha)[0] == left and abs(box_of(alpha)[2] - (cut - left)) <= 1
    assert cut < width
    check_emulated(gw, response, {"roi"})


async def test_shadow_under_not_over(gw: Gateway, product) -> None:
    image, _ = product
    plain = alpha_of(await post(gw, image))
    response = await post(gw, image, shadow="true", shadow_opacity="80")
    shaded = decode(response.content)
    alpha = np.asarray(shaded.getchannel("A"))
    opaque = plain == 255
    assert (alpha[opaque] == 255).all()
    left, top, w, h = box_of(plain)
    below = alpha[top + h + 1: top + h + 3, left + w // 3: left + 2 * w // 3]
    assert below.min() > 10 and below.max() <= 205
    assert (np.asarray(shaded.convert("RGB"))[top + h + 1, left + w // 2] < 40).all()
    # The box headers show the subject, not its shadow.
    assert header_box(response.headers) == box_of(plain)
    check_emulated(gw, response, {"shadow"})


async def test_zip_reassembles_to_the_png(gw: Gateway, product) -> None:
    image, _ = product
    png = decode((await post(gw, image)).content)
    response = await post(gw, image, format="zip")
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
        color = decode(archive.read("color.jpg"))
        matte = decode(archive.read("alpha.png"))
    assert (color.mode, matte.mode, color.size) == ("RGB", "L", png.size)
    assert np.array_equal(np.asarray(matte), np.asarray(png.getchannel("A")))
    shown = np.asarray(matte) > 0
    diff = np.abs(np.asarray(color, int) - np.asarray(png.convert("RGB"), int))[shown]
    assert diff.mean() < 3
    check_emulated(gw, response, {"zip"})


async def test_bg_image_file_and_base64(gw: Gateway, product) -> None:
    image, truth = product
    left, top, w, h = await reference(gw, image)
    background = solid_png(40, 30, (10, 200, 30))
    for files, data in (
        ({"bg_image_file": ("bg.png", background)}, {}),
        (None, {"bg_image_base64": base64.b64encode(background).decode()}),
    ):
        response = await post(gw, image, files, **data)
        out = np.asarray(decode(response.content).convert("RGBA"))
        assert (out[..., 3] == 255).all() and out.shape[:2] == truth.shape
        assert tuple(out[0, 0, :3]) == (10, 200, 30)
        assert header_box(response.headers) == (left, top, w, h)
        check_emulated(gw, response, {"bg_image"})


async def test_bg_image_url_through_the_fetcher(gw: Gateway, product) -> None:
    image, _ = product
    background = solid_png(16, 16, (250, 0, 250))

    @get("/bg.png", media_type="image/png")
    async def bg() -> Response[bytes]:
        return Response(background, media_type="image/png")

    with serve_in_thread(Litestar([bg])) as base:
        response = await post(gw, image, bg_image_url=f"{base}/bg.png")
        missing = await gw.client.post(URL, files={"image_file": ("p.jpg", image)},
                                       data={"bg_image_url": f"{base}/nope.png"})
    assert tuple(np.asarray(decode(response.content).convert("RGB"))[0, 0]) == (250, 0, 250)
    assert missing.status_code == 400
    assert missing.json()["code"] == "invalid_image_url"
    assert "bg_image_url" in missing.json()["detail"]


@pytest.mark.parametrize(("data", "named"), [
    ({"bg_color": "red", "bg_image_base64": "aGVsbG8="}, "bg_color"),
    ({"bg_color": "red", "bg_image_url": "https://example.com/bg.png"}, "bg_image_url"),
    ({"roi": "0 0 500px 10px"}, "roi"),
    ({"roi": "1 2 3"}, "roi"),
    ({"scale": "5%"}, "scale"),
    ({"position": "top"}, "position"),
    ({"shadow_opacity": "120"}, "shadow_opacity"),
    ({"shadow": "maybe"}, "shadow"),
    ({"bg_image_base64": base64.b64encode(b"not an image").decode()}, "bg_image"),
    ({"format": "tar"}, "format"),
])
async def test_bad_new_options_are_400_before_any_provider(
    tmp_path: Path, product, data: dict[str, str], named: str
) -> None:
    image, _ = product
    fake = FakeProvider("fake")
    app = create_app(gateway_settings(tmp_path), providers={"fake": fake})
    async with AsyncTestClient(app=app) as client:
        response = await client.post(URL, files={"image_file": ("p.jpg", image)}, data=data)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "invalid_option"
    assert f"`{named}" in problem["detail"]
    assert fake.calls == []


@pytest.fixture(scope="module")
def removebg_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real gateway with one `removebg` provider: the sandbox remove.bg over loopback."""
    with serve_in_thread(create_removebg_app(SandboxOptions())) as vendor:
        table = {"type": "removebg", "api_key": REMOVEBG_KEY, "base_url": vendor}
        settings = gateway_settings(tmp_path_factory.mktemp("removebg"),
                                    {"providers": {"removebg": table}})
        with serve_in_thread(create_app(settings)) as base:
            yield base


def test_native_at_removebg_over_http(removebg_gateway: str, product) -> None:
    """remove.bg does roi/scale/position/shadow/bg_image itself (X-Emulated empty); zip is ours."""
    image, _ = product
    url = f"{removebg_gateway}{URL}"
    with httpx.Client(timeout=60) as http:
        def send(**data: str) -> httpx.Response:
            response = http.post(url, files={"image_file": ("p.jpg", image)}, data=data)
            assert response.status_code == 200, response.text
            assert response.headers["x-provider"] == "removebg"
            return response

        _, _, w, h = box_of(alpha_of(send()))
        placed = send(scale="50%", position="0% 100%")
        zipped = send(scale="50%", position="0% 100%", format="zip")
        shaded = send(shadow="true", bg_image_base64=base64.b64encode(
            solid_png(8, 8, (0, 0, 250))).decode())
    assert placed.headers["x-emulated"] == ""
    got = box_of(alpha_of(placed))
    height, width = product[1].shape
    factor = 0.5 * min(width / w, height / h)
    assert abs(got[2] - w * factor) <= 3 and abs(got[3] - h * factor) <= 3
    assert got[0] <= 2 and abs(got[1] + got[3] - height) <= 2
    assert {"zip", "scale", "position"} <= set(zipped.headers["x-emulated"].split(","))
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert box_of(np.asarray(decode(archive.read("alpha.png")))) == got
    assert header_box(zipped.headers) == got  # post-processed: the box comes with it
    assert shaded.headers["x-emulated"] == ""
    assert decode(shaded.content).convert("RGB").getpixel((0, 0))[2] > 230
