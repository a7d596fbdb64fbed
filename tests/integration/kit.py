"""Helpers for the integration tests: images, settings, sandbox control, TOML configs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from gateway.app import create_app
from gateway.settings import Settings, parse_settings
from sandbox.options import BACKGROUNDCUT_KEY, BACKGROUNDERASE_KEY, WITHOUTBG_KEY
from sandbox.server import SandboxUrls
from tests.imaging import encode
from tests.servers import serve_in_thread
from tests.synthetic import on_plain, trimap_from_alpha

REDIS_URL = "redis://127.0.0.1:6379/15"
VENDOR_KEYS = (WITHOUTBG_KEY, BACKGROUNDERASE_KEY, BACKGROUNDCUT_KEY)
#: Every error code the README documents (anything else is a bug).
DOCUMENTED_CODES = frozenset({
    "missing_image", "invalid_option", "invalid_image_url", "unauthorized", "payload_too_large",
    "unsupported_media_type", "invalid_image", "image_too_large", "trimap_mismatch",
    "unsupported_options", "rate_limited", "quota_exceeded", "provider_error",
    "no_provider_available", "provider_timeout",
})
#: The route prefix of each vendor's image calls (health, credits and control routes excluded).
IMAGE_ROUTES = {
    "withoutbg": "/v1.0/",
    "backgrounderase": "/v2",
    "backgroundcut": "/v3/tools/ai/matting/process",
}




def product_jpeg(seed: int = 3, size: int = 192) -> bytes:
    """A synthetic product on a plain backdrop, as JPEG."""
    image, _ = on_plain(seed, size=size)
    return encode(image)


def product_with_trimap(seed: int = 3, size: int = 192) -> tuple[bytes, bytes]:
    """(JPEG image, PNG trimap of the same size) of a synthetic product."""
    image, alpha = on_plain(seed, size=size)
    return encode(image), encode(Image.fromarray(trimap_from_alpha(alpha)), "PNG")


def withoutbg(urls: SandboxUrls, **fields: Any) -> dict[str, Any]:
    """A `withoutbg` provider table pointing at the sandbox (no gateway rate limit by default)."""
    return {"type": "withoutbg", "api_key": WITHOUTBG_KEY, "base_url": urls.withoutbg,
            "rate_limit": "1000/minute", "priority": 10, **fields}


def backgrounderase(urls: SandboxUrls, **fields: Any) -> dict[str, Any]:
    """A `backgrounderase` provider table pointing at the sandbox."""
    return {"type": "backgrounderase", "api_key": BACKGROUNDERASE_KEY,
            "base_url": urls.backgrounderase, "priority": 20, **fields}


def backgroundcut(urls: SandboxUrls, **fields: Any) -> dict[str, Any]:
    """A `backgroundcut` provider table pointing at the sandbox."""
    return {"type": "backgroundcut", "api_key": BACKGROUNDCUT_KEY,
            "base_url": urls.backgroundcut, "priority": 30, **fields}


def local(**fields: Any) -> dict[str, Any]:
    """The offline `local` provider table (tried last by default)."""
    return {"type": "local", "priority": 100, **fields}


def config_data(
    tmp_path: Path, providers: Mapping[str, dict[str, Any]], **sections: dict[str, Any]
) -> dict[str, Any]:
    """A config document: private SQLite ledger, no cache, plus `sections` (whole tables)."""
    data: dict[str, Any] = {
        "ledger": {"path": str(tmp_path / "u.sqlite3")},
        "cache": {"enabled": False},
        **sections,
    }
    data["providers"] = {name: dict(table) for name, table in providers.items()}
    return data


def settings_for(
    tmp_path: Path, providers: Mapping[str, dict[str, Any]], **sections: dict[str, Any]
) -> Settings:
    """Parsed settings of `config_data`."""
    return parse_settings(config_data(tmp_path, providers, **sections))


@contextmanager
def running_gateway(settings: Settings) -> Iterator[str]:
    """The real gateway app served by uvicorn on a loopback port (in a thread); its base URL."""
    with serve_in_thread(create_app(settings)) as base:
        yield base


def remove(
    http: httpx.Client, base: str, image: bytes, trimap: bytes | None = None,
    headers: Mapping[str, str] | None = None, **options: str,
) -> httpx.Response:
    """POST one multipart removal with `options` as form fields."""
    files = {"image_file": ("image.jpg", image, "image/jpeg")}
    if trimap is not None:
        files["trimap_file"] = ("trimap.png", trimap, "image/png")
    return http.post(f"{base}/v1/remove-background", files=files, data=options,
                     headers=dict(headers or {}))


def set_fault(vendor_url: str, status: int | None = None, count: int = 1,
              delay_s: float = 0.0, retry_after: float | None = None) -> None:
    """Make the next `count` image calls of one fake vendor fail or stall."""
    spec: dict[str, Any] = {"count": count, "delay_s": delay_s}
    if status is not None:
        spec["status"] = status
    if retry_after is not None:
        spec["retry_after"] = retry_after
    httpx.post(f"{vendor_url}/_sandbox/faults", json=spec).raise_for_status()


def image_calls(vendor_url: str, vendor: str) -> list[dict[str, Any]]:
    """The vendor's logged image calls (any status), oldest first."""
    entries: list[dict[str, Any]] = httpx.get(f"{vendor_url}/_sandbox/log").json()
    return [e for e in entries if e["route"].startswith(IMAGE_ROUTES[vendor])]


def wait_for_calls(vendor_url: str, vendor: str, count: int, timeout_s: float = 15.0) -> None:
    """Wait until the vendor logged `count` image calls (stalled calls land after their delay)."""
    deadline = time.monotonic() + timeout_s
    while len(image_calls(vendor_url, vendor)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{vendor} never logged {count} image calls")
        time.sleep(0.05)


def vendor_logs(urls: SandboxUrls) -> dict[str, list[dict[str, Any]]]:
    """Every logged call of every fake vendor (control routes are not logged)."""
    return {
        "withoutbg": httpx.get(f"{urls.withoutbg}/_sandbox/log").json(),
        "backgrounderase": httpx.get(f"{urls.backgrounderase}/_sandbox/log").json(),
        "backgroundcut": httpx.get(f"{urls.backgroundcut}/_sandbox/log").json(),
    }


def provider_status(http: httpx.Client, base: str, name: str) -> dict[str, Any]:
    """One provider's entry of `GET /v1/providers`."""
    providers = http.get(f"{base}/v1/providers").json()["providers"]
    return next(p for p in providers if p["name"] == name)


def attempts(response: httpx.Response) -> list[str]:
    """`X-Attempts` split into `name=outcome` items."""
    return [item.strip() for item in response.headers.get("x-attempts", "").split(",") if item]


def emulated(response: httpx.Response) -> set[str]:
    """`X-Emulated` as a set of option names."""
    return {item.strip() for item in response.headers.get("x-emulated", "").split(",") if item}


def to_toml(data: Mapping[str, Any]) -> str:
    """Serialise nested dicts of str/bool/int/float/lists to TOML (tables, no inline tables)."""
    lines: list[str] = []

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return repr(item)
        if isinstance(item, str):
            return json.dumps(item)
        if isinstance(item, list | tuple):
            return "[" + ", ".join(value(v) for v in item) + "]"
        raise TypeError(f"cannot write {type(item).__name__} to TOML")

    def table(path: str, body: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, Mapping)}
        if path:
            lines.append(f"[{path}]")
        lines.extend(f"{k} = {value(v)}" for k, v in scalars.items())
        lines.append("")
        for key, sub in body.items():
            if isinstance(sub, Mapping):
                table(f"{path}.{key}" if path else key, sub)

    table("", data)
    return "\n".join(lines)


def write_config(path: Path, data: Mapping[str, Any]) -> Path:
    """Write `data` as a TOML config file; returns `path`."""
    path.write_text(to_toml(data), encoding="utf-8")
    return path
