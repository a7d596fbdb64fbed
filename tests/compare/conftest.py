"""A real gateway app with the compare routes mounted, scripted providers and small images."""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from litestar import Litestar
from PIL import Image

from gateway.api.compare_routes import COMPARE_ROUTES
from gateway.app import create_app
from gateway.settings import Settings, parse_settings
from providers.base import Provider

REDIS_URL = "redis://127.0.0.1:6379/15"

def compare_settings(
    tmp_path: Path, providers: Mapping[str, Any], experiments: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings with these provider configs, a private ledger, no cache, and the experiments."""
    data: dict[str, Any] = {
        "providers": dict(providers),
        "ledger": {"path": str(tmp_path / f"usage-{uuid.uuid4().hex[:8]}.sqlite3")},
        "cache": {"enabled": False},
        **(extra or {}),
    }
    if experiments:
        data["experiments"] = dict(experiments)
    return parse_settings(data)


def fake_configs(*names: str) -> dict[str, dict[str, str]]:
    """Provider configs for FakeProviders (the type is irrelevant: the fakes are injected)."""
    return {name: {"type": "local"} for name in names}


def compare_app(settings: Settings, providers: Mapping[str, Provider]) -> Litestar:
    """create_app plus the compare routes, when create_app does not register them (yet)."""
    app = create_app(settings, providers=providers)
    served = {route.path for route in app.routes}
    for handler in COMPARE_ROUTES:
        if handler.paths.isdisjoint(served):
            app.register(handler)
    return app


def png(array: np.ndarray) -> bytes:
    """Encode a uint8 array (HxW or HxWxC) as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def photo(width: int = 64, height: int = 64) -> bytes:
    """A flat blue JPEG-free test photo (PNG, RGB) with a red centre square."""
    array = np.full((height, width, 3), (90, 140, 200), np.uint8)
    array[height // 4: height - height // 4, width // 4: width - width // 4] = (200, 40, 40)
    return png(array)


def centre_box(width: int = 64, height: int = 64) -> np.ndarray:
    """The FakeProvider's answer as a matte: opaque centre box, clear border."""
    alpha = np.zeros((height, width), np.uint8)
    alpha[height // 4: height - height // 4, width // 4: width - width // 4] = 255
    return alpha

