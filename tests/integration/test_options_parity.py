"""Issue 3: each vendor, pinned, gives the same kind of output as the local engine for every
option, and `X-Emulated` lists exactly the options the gateway did locally."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from sandbox.server import SandboxUrls
from tests.imaging import decode
from tests.integration.kit import (
    backgroundcut,
    backgrounderase,
    emulated,
    local,
    product_with_trimap,
    remove,
    running_gateway,
    settings_for,
    withoutbg,
)

RESET_SANDBOX = False  # no test here reads the vendor logs or injects faults
RED, BLUE = (255, 0, 0), (0, 0, 255)
#: Option sets sent as form fields (every option alone, then a combination).
CASES: dict[str, dict[str, str]] = {
    "png": {},
    "jpg": {"format": "jpg"},
    "webp": {"format": "webp"},
    "alpha": {"channels": "alpha"},
    "preview": {"size": "preview"},
    "crop": {"crop": "true"},
    "crop_margin": {"crop": "true", "crop_margin": "12px"},
    "bg_color": {"bg_color": "#ff0000"},
    "despill": {"despill": "true"},
    "combo": {"format": "webp", "crop": "true", "bg_color": "#0000ff", "despill": "true"},
}
MEDIA = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    """The small photo and its trimap, and a larger pair for `size=preview` (over 0.25 MP)."""
    small, small_trimap = product_with_trimap(seed=5, size=192)
    large, large_trimap = product_with_trimap(seed=5, size=640)
    return {"small": small, "small_trimap": small_trimap,
            "large": large, "large_trimap": large_trimap}


@pytest.fixture(scope="module")
def gateway(sandbox: SandboxUrls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One gateway with every vendor and the local engine (no gateway rate limits)."""
    for vendor in (sandbox.withoutbg, sandbox.backgrounderase, sandbox.backgroundcut):
        httpx.post(f"{vendor}/_sandbox/reset").raise_for_status()  # once for the module
    providers = {
        "local": local(),
        "withoutbg": withoutbg(sandbox),
        "backgrounderase": backgrounderase(sandbox),
        "backgroundcut": backgroundcut(sandbox),
    }
    with running_gateway(settings_for(tmp_path_factory.mktemp("parity"), providers)) as base:
        yield base


@pytest.fixture(scope="module")
def references() -> dict[tuple[str, bool], httpx.Response]:
    """Local-engine answers per (case, with trimap), computed once per module."""
    return {}


def _source(case: str) -> str:
    return "large" if case == "preview" else "small"


def _send(http: httpx.Client, base: str, images: dict[str, bytes], case: str, provider: str,
          with_trimap: bool) -> httpx.Response:
    source = _source(case)
    trimap = images[f"{source}_trimap"] if with_trimap else None
    response = remove(http, base, images[source], trimap, provider=provider, **CASES[case])
    assert response.status_code == 200, response.text
    assert response.headers["x-provider"] == provider
    assert response.headers["x-attempts"] == f"{provider}=ok"
    return response


def _corner(image: Image.Image) -> tuple[int, ...]:
    pixel = image.getpixel((0, 0))
    return pixel if isinstance(pixel, tuple) else (pixel,)


def _check_kind(case: str, got: Image.Image, ref: Image.Image, source: Image.Image) -> None:
    """Same format, mode and size (crop within a tolerance), and the expected corner colour."""
    fields = CASES[case]
    assert got.format == ref.format == MEDIA[fields.get("format", "png")]
    assert got.mode == ref.mode, f"vendor answered {got.mode}, the local engine {ref.mode}"
    full = source.size
    if "crop" in fields:
        assert got.width < full[0] and got.height < full[1], "a crop is smaller than the image"
        assert abs(got.width - ref.width) <= 0.15 * ref.width
        assert abs(got.height - ref.height) <= 0.15 * ref.height
    elif "size" in fields:
        # Each resizer rounds its own way: the same cap, give or take a pixel.
        assert abs(got.width - ref.width) <= 2 and abs(got.height - ref.height) <= 2
    else:
        assert got.size == ref.size
    corner, ref_corner = _corner(got), _corner(ref)
    if "bg_color" in fields:
        want = RED if fields["bg_color"] == "#ff0000" else BLUE
        for found in (corner, ref_corner):
            assert all(abs(a - b) <= 24 for a, b in zip(found[:3], want, strict=True)), found
    elif fields.get("format") == "jpg":
        assert min(corner) >= 230 and min(ref_corner) >= 230, "JPEG flattens on white"
    elif fields.get("channels") == "alpha":
        assert got.mode == "L" and corner[0] <= 10 and ref_corner[0] <= 10
        centre = got.getpixel((got.width // 2, got.height // 2))
        assert isinstance(centre, int) and centre >= 200, "the product is opaque in the matte"
    else:
        assert got.mode == "RGBA" and corner[3] <= 10 and ref_corner[3] <= 10
        centre = got.getpixel((got.width // 2, got.height // 2))
        assert isinstance(centre, tuple) and centre[3] >= 200


def _reference(http: httpx.Client, gateway: str, images: dict[str, bytes], case: str,
               with_trimap: bool, references: dict[Any, httpx.Response]) -> Image.Image:
    key = (case, with_trimap)
    if key not in references:
        references[key] = _send(http, gateway, images, case, "local", with_trimap)
    return decode(references[key].content)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("vendor", ["withoutbg", "backgrounderase", "backgroundcut"])
def test_vendor_output_matches_local_kind(
    http: httpx.Client, gateway: str, images: dict[str, bytes], vendor: str, case: str,
    references: dict[Any, httpx.Response],
) -> None:
    """Pinned vendor vs local: same kind of image; X-Emulated lists exactly the local steps."""
    with_trimap = vendor == "backgroundcut"  # BackgroundCut only serves trimap requests
    response = _send(http, gateway, images, case, vendor, with_trimap)
    got = decode(response.content)
    ref = _reference(http, gateway, images, case, with_trimap, references)
    source = decode(images[_source(case)])
    _check_kind(case, got, ref, source)
    assert (int(response.headers["x-width"]), int(response.headers["x-height"])) == got.size
    if case == "preview":
        # BackgroundErase documents "about 0.25 MP" and its answer passes through untouched.
        assert got.width * got.height <= 252_500 and source.width * source.height > 250_000
        assert abs(got.width / got.height - source.width / source.height) < 0.02
    if case == "crop_margin":
        tight = _reference(http, gateway, images, "crop", with_trimap, references)
        assert got.width > tight.width and got.height > tight.height, "the margin is kept"

    requested = set(CASES[case])
    if vendor == "backgrounderase":
        # All or nothing: native options pass through; one non-native option -> all local.
        expected = requested if "crop_margin" in requested else set()
    else:
        expected = requested  # withoutbg does nothing natively; backgroundcut only the trimap
    assert emulated(response) == expected


def test_withoutbg_proxy_matte_is_applied_to_the_original(
    http: httpx.Client, gateway: str, images: dict[str, bytes], sandbox: SandboxUrls
) -> None:
    """withoutBG answers a matte; the cutout keeps the original's size and the product's colour."""
    response = _send(http, gateway, images, "png", "withoutbg", with_trimap=False)
    got = decode(response.content).convert("RGBA")
    source = decode(images["small"]).convert("RGB")
    assert got.size == source.size
    x, y = got.width // 2, got.height // 2
    r, g, b, a = got.getpixel((x, y))  # type: ignore[misc]
    sr, sg, sb = source.getpixel((x, y))  # type: ignore[misc]
    assert a >= 200 and abs(r - sr) + abs(g - sg) + abs(b - sb) <= 30
