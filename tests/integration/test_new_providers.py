"""Issue 13 over loopback: remove.bg, Photoroom, Clipdrop and rembg fakes behind the real gateway.

Per provider: which options come back native and which emulated (`X-Emulated`); a failover chain
removebg -> photoroom -> rembg -> local with its `X-Attempts` trail; `/v1/providers` and
`/v1/credits` for the new providers, disabled ones with their reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.options import CLIPDROP_KEY, PHOTOROOM_KEY, REMOVEBG_KEY
from sandbox.server import SandboxUrls
from tests.imaging import decode
from tests.integration.kit import (
    attempts,
    emulated,
    local,
    product_jpeg,
    remove,
    running_gateway,
    set_fault,
    settings_for,
)

IMAGE = product_jpeg(seed=5, size=192)
SIZE = decode(IMAGE).size
ROUTING = {"allowed_fails": 3, "fail_window_s": 60, "cooldown_s": 30, "max_attempts": 4}
NEW_VENDORS = ("removebg", "photoroom", "clipdrop", "rembg")


def removebg(urls: SandboxUrls, **fields: Any) -> dict[str, Any]:
    """A `removebg` provider table pointing at the sandbox."""
    return {"type": "removebg", "api_key": REMOVEBG_KEY, "base_url": urls.removebg,
            "priority": 40, **fields}


def photoroom(urls: SandboxUrls, **fields: Any) -> dict[str, Any]:
    """A `photoroom` provider table (segment and account on the same fake)."""
    return {"type": "photoroom", "api_key": PHOTOROOM_KEY, "base_url": urls.photoroom,
            "account_url": urls.photoroom, "priority": 50, **fields}


def clipdrop(urls: SandboxUrls, **fields: Any) -> dict[str, Any]:
    """A `clipdrop` provider table pointing at the sandbox."""
    return {"type": "clipdrop", "api_key": CLIPDROP_KEY, "base_url": urls.clipdrop,
            "priority": 60, **fields}


def rembg(urls: SandboxUrls, **fields: Any) -> dict[str, Any]:
    """A `rembg` provider table pointing at the fake `rembg s`."""
    return {"type": "rembg", "base_url": urls.rembg, "priority": 80, **fields}


TABLES = {"removebg": removebg, "photoroom": photoroom, "clipdrop": clipdrop, "rembg": rembg}


@pytest.fixture(autouse=True)
def _reset_new_fakes(sandbox: SandboxUrls) -> None:
    """The package fixture resets the first three fakes; these four are reset here."""
    for name in NEW_VENDORS:
        httpx.post(f"{getattr(sandbox, name)}/_sandbox/reset").raise_for_status()


def image_calls(base: str, path: str) -> list[int]:
    """Statuses of the fake's logged calls to `path`."""
    return [e["status"] for e in httpx.get(f"{base}/_sandbox/log").json() if e["route"] == path]


#: Per provider: what `format=webp, crop, bg_color` and `format=webp` alone leave to the gateway.
EXPECTED_EMULATED = {
    "removebg": (set(), set()),
    "photoroom": (set(), set()),
    "clipdrop": ({"format", "crop", "bg_color"}, set()),
    "rembg": ({"format", "crop", "bg_color"}, {"format"}),
}


@pytest.mark.parametrize("name", NEW_VENDORS)
def test_native_and_emulated_options_per_provider(
    name: str, sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    settings = settings_for(tmp_path, {name: TABLES[name](sandbox)})
    with running_gateway(settings) as base:
        styled = remove(http, base, IMAGE, format="webp", crop="true", bg_color="#336699")
        plain = remove(http, base, IMAGE, format="webp")

    for response in (styled, plain):
        assert response.status_code == 200, response.text
        assert response.headers["x-provider"] == name
        assert response.headers["content-type"] == "image/webp"
    assert (emulated(styled), emulated(plain)) == EXPECTED_EMULATED[name]
    cropped = decode(styled.content)
    assert cropped.width * cropped.height < SIZE[0] * SIZE[1] * 0.9
    red, green, blue = cropped.convert("RGB").getpixel((0, 0))
    assert abs(red - 0x33) < 24 and abs(green - 0x66) < 24 and abs(blue - 0x99) < 24
    full = decode(plain.content)
    assert full.size == SIZE and full.convert("RGBA").getpixel((0, 0))[3] < 16


def test_preview_cost_comes_from_the_vendor_and_credits_are_reported(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    providers = {"removebg": removebg(sandbox), "clipdrop": clipdrop(sandbox, priority=90)}
    settings = settings_for(tmp_path, providers)
    with running_gateway(settings) as base:
        preview = remove(http, base, IMAGE, size="preview")
        pinned = remove(http, base, IMAGE, provider="clipdrop")
        credits = http.get(f"{base}/v1/credits").json()["credits"]

    assert preview.status_code == 200 and preview.headers["x-provider"] == "removebg"
    assert preview.headers["x-cost"] == "0.25"  # the fake's X-Credits-Charged
    assert pinned.headers["x-cost"] == "1"
    assert credits["removebg"] == 999.75
    assert credits["clipdrop"] == 999.0  # last x-remaining-credits


def test_failover_chain_removebg_photoroom_rembg_local(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    providers = {"removebg": removebg(sandbox), "photoroom": photoroom(sandbox),
                 "rembg": rembg(sandbox), "local": local()}
    settings = settings_for(tmp_path, providers, routing=ROUTING)
    set_fault(sandbox.removebg, status=402)
    set_fault(sandbox.photoroom, status=503)
    set_fault(sandbox.rembg, status=500)
    with running_gateway(settings) as base:
        to_local = remove(http, base, IMAGE)
        set_fault(sandbox.photoroom, status=429, retry_after=20)
        to_rembg = remove(http, base, IMAGE)

    assert to_local.status_code == 200, to_local.text
    assert attempts(to_local) == [
        "removebg=out_of_credits", "photoroom=unavailable", "rembg=unavailable", "local=ok"]
    assert to_local.headers["x-provider"] == "local"
    assert to_rembg.status_code == 200, to_rembg.text
    assert attempts(to_rembg)[-2:] == ["photoroom=rate_limited", "rembg=ok"]
    assert image_calls(sandbox.removebg, "/v1.0/removebg") == [402]
    assert image_calls(sandbox.photoroom, "/v1/segment") == [503, 429]
    assert image_calls(sandbox.rembg, "/api/remove") == [500, 200]


def test_providers_route_lists_capabilities_health_and_why_disabled(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BG_TEST_UNSET_REMBG_URL", raising=False)
    monkeypatch.delenv("BG_TEST_UNSET_PHOTOROOM_KEY", raising=False)
    providers = {
        "removebg": removebg(sandbox), "clipdrop": clipdrop(sandbox), "rembg": rembg(sandbox),
        "rembg-off": rembg(sandbox, base_url="${BG_TEST_UNSET_REMBG_URL}"),
        "photoroom": photoroom(sandbox, api_key="${BG_TEST_UNSET_PHOTOROOM_KEY}"),
    }
    settings = settings_for(tmp_path, providers)
    with running_gateway(settings) as base:
        listed = {p["name"]: p for p in http.get(f"{base}/v1/providers").json()["providers"]}

    assert listed["removebg"]["enabled"] and listed["removebg"]["health"] is True
    assert sorted(listed["removebg"]["capabilities"]["native"]) == [
        "bg_color", "bg_image", "channels", "crop", "format", "position", "roi", "scale",
        "shadow", "size"]
    assert listed["removebg"]["capabilities"]["max_megapixels"] == 25.0
    assert listed["clipdrop"]["capabilities"]["native"] == ["format"]
    assert listed["clipdrop"]["health"] is None  # no health or account call
    assert listed["rembg"]["health"] is True and listed["rembg"]["capabilities"]["native"] == []
    assert listed["rembg-off"]["enabled"] is False
    assert listed["rembg-off"]["disabled_reason"] == (
        "no base_url (providers.rembg-off.base_url is unset)")
    assert listed["photoroom"]["disabled_reason"] == (
        "no API key (providers.photoroom.api_key is unset)")
    # what a disabled vendor would do once enabled
    assert sorted(listed["photoroom"]["capabilities"]["native"]) == [
        "bg_color", "channels", "crop", "despill", "format", "size"]
    assert listed["rembg-off"]["capabilities"]["output"] == "cutout"
    assert REMOVEBG_KEY not in repr(listed)


@pytest.mark.parametrize(("name", "expected"), [
    ("removebg", set()), ("photoroom", {"roi", "scale", "position", "shadow"}),
])
def test_remove_bg_only_options_are_native_to_removebg(
    name: str, expected: set[str], sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    settings = settings_for(tmp_path, {name: TABLES[name](sandbox)})
    with running_gateway(settings) as base:
        response = remove(http, base, IMAGE, roi="0 0 60% 100%", scale="80%", shadow="true")

    assert response.status_code == 200, response.text
    assert emulated(response) == expected
    alpha = decode(response.content).getchannel("A")
    assert alpha.size == SIZE
    assert alpha.crop((round(SIZE[0] * 0.8), 0, *SIZE)).getextrema()[1] < 128  # right of the roi
