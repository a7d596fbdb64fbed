"""The sandbox runner, instant mode, and config/sandbox.toml pointing at it."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from gateway.settings import load_settings
from sandbox.options import (
    BACKGROUNDCUT_KEY,
    BACKGROUNDERASE_KEY,
    CLIPDROP_KEY,
    PHOTOROOM_KEY,
    REMOVEBG_KEY,
    WITHOUTBG_KEY,
    SandboxOptions,
)
from sandbox.server import SandboxUrls, running_sandbox
from tests.imaging import decode, encode
from tests.sandbox.helpers import subject_image

CONFIG = Path(__file__).resolve().parents[2] / "config" / "sandbox.toml"


def test_running_sandbox_starts_and_stops_cleanly() -> None:
    with running_sandbox() as urls:
        ports = {url.rsplit(":", 1)[1] for url in (urls.withoutbg, urls.backgrounderase,
                                                   urls.backgroundcut)}
        assert len(ports) == 3
        assert httpx.get(f"{urls.backgrounderase}/health").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{urls.backgrounderase}/health", timeout=2)


def test_instant_mode_answers_results_of_the_right_size() -> None:
    data = encode(subject_image(640, 480))
    with running_sandbox(SandboxOptions(instant=True)) as urls, httpx.Client() as client:
        matte = client.post(f"{urls.withoutbg}/v1.0/alpha-channel",
                            headers={"X-API-Key": WITHOUTBG_KEY}, files={"file": ("a.jpg", data)})
        assert matte.status_code == 200
        assert decode(matte.content).size == (640, 480)
        body = {"image_base64": base64.b64encode(data).decode()}
        erase = client.post(f"{urls.backgrounderase}/v2", json=body,
                            headers={"x-api-key": BACKGROUNDERASE_KEY})
        cutout = decode(base64.b64decode(erase.json()["image_base64"]))
        assert (cutout.mode, cutout.size) == ("RGBA", (640, 480))
        assert cutout.getpixel((0, 0))[3] == 0


def test_sandbox_config_points_at_the_default_sandbox() -> None:
    settings = load_settings(CONFIG)
    defaults = SandboxOptions()
    providers = settings.enabled_providers()
    assert set(providers) == {"local", "withoutbg", "backgrounderase", "backgroundcut",
                              "removebg", "photoroom", "clipdrop", "rembg"}
    expected = {
        "withoutbg": (defaults.withoutbg_port, WITHOUTBG_KEY),
        "backgrounderase": (defaults.backgrounderase_port, BACKGROUNDERASE_KEY),
        "backgroundcut": (defaults.backgroundcut_port, BACKGROUNDCUT_KEY),
        "removebg": (defaults.removebg_port, REMOVEBG_KEY),
        "photoroom": (defaults.photoroom_port, PHOTOROOM_KEY),
        "clipdrop": (defaults.clipdrop_port, CLIPDROP_KEY),
        "rembg": (defaults.rembg_port, None),
    }
    for name, (port, key) in expected.items():
        config = providers[name]
        assert config.base_url == f"http://127.0.0.1:{port}"  # type: ignore[union-attr]
        assert getattr(config, "api_key", None) == key
    assert (defaults.withoutbg_port, defaults.backgrounderase_port,
            defaults.backgroundcut_port) == (9101, 9102, 9103)


def test_new_fakes_inject_faults_with_their_own_error_bodies(
    sandbox: SandboxUrls, client: httpx.Client
) -> None:
    image = encode(subject_image(64, 48))
    calls = {
        sandbox.removebg: ("/v1.0/removebg", {"X-Api-Key": REMOVEBG_KEY}, "image_file",
                           "/v1.0/account"),
        sandbox.photoroom: ("/v1/segment", {"x-api-key": PHOTOROOM_KEY}, "image_file",
                            "/v1/account"),
        sandbox.clipdrop: ("/remove-background/v1", {"x-api-key": CLIPDROP_KEY}, "image_file",
                           None),
        sandbox.rembg: ("/api/remove", {}, "file", "/openapi.json"),
    }
    bodies = []
    for base, (path, headers, field, status_path) in calls.items():
        client.post(f"{base}/_sandbox/faults",
                    json={"status": 429, "count": 1, "retry_after": 3}).raise_for_status()
        if status_path is not None:  # account and schema calls never take the fault
            assert client.get(f"{base}{status_path}", headers=headers).status_code == 200
        failed = client.post(f"{base}{path}", headers=headers, files={field: ("a.jpg", image)})
        again = client.post(f"{base}{path}", headers=headers, files={field: ("a.jpg", image)})
        assert (failed.status_code, failed.headers["retry-after"]) == (429, "3")
        assert again.status_code == 200
        log = client.get(f"{base}/_sandbox/log").json()
        assert [entry["status"] for entry in log if entry["route"] == path] == [429, 200]
        bodies.append(failed.json())

    assert bodies[0]["errors"][0]["code"] == "rate_limit_exceeded"
    assert bodies[1]["type"] == "rate_limited"
    assert isinstance(bodies[2]["error"], str)
    assert "detail" in bodies[3]
