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
    WITHOUTBG_KEY,
    SandboxOptions,
)
from sandbox.server import running_sandbox
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
    assert set(providers) == {"local", "withoutbg", "backgrounderase", "backgroundcut"}
    expected = {
        "withoutbg": (defaults.withoutbg_port, WITHOUTBG_KEY),
        "backgrounderase": (defaults.backgrounderase_port, BACKGROUNDERASE_KEY),
        "backgroundcut": (defaults.backgroundcut_port, BACKGROUNDCUT_KEY),
    }
    for name, (port, key) in expected.items():
        config = providers[name]
        assert config.base_url == f"http://127.0.0.1:{port}"  # type: ignore[union-attr]
        assert config.api_key == key  # type: ignore[union-attr]
    assert (defaults.withoutbg_port, defaults.backgrounderase_port,
            defaults.backgroundcut_port) == (9101, 9102, 9103)
