"""`GET /v1/models` on the withoutBG drop-in: what the withoutBG SDK's `get_models()` reads.

The SDK (`withoutbg.api.WithoutBGAPIClient.get_models`) sends `X-API-Key`, GETs
`{base_url}/v1/models`, raises on a non-2xx status and returns the JSON object as a dict.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.dropin.conftest import CLIENT_KEY, client_auth, dropin_app, dropin_settings
from tests.servers import serve_in_thread

requests = pytest.importorskip("requests")


def test_get_models_as_the_sdk_calls_it(tmp_path: Path) -> None:
    settings = dropin_settings(tmp_path, {
        **client_auth(),
        "providers": {"local": {"type": "local"},
                      "wbg": {"type": "withoutbg", "priority": 5}},  # no key: disabled
    })
    with serve_in_thread(dropin_app(settings, None)) as base:
        session = requests.Session()
        session.headers.update({"X-API-Key": CLIENT_KEY})
        response = session.get(f"{base}/v1/models")
        response.raise_for_status()
        body = response.json()
        refused = httpx.get(f"{base}/v1/models", headers={"X-API-Key": "wrong"})
    assert isinstance(body, dict)
    models = body["models"]
    assert [m["id"] for m in models] == ["local"]  # enabled providers only
    assert models[0]["type"] == "local" and models[0]["output"] in ("cutout", "mask")
    assert body["default"] == "local"
    assert "/v1.0/image-without-background" in body["endpoints"]
    assert refused.status_code == 401 and refused.json() == {"detail": "Invalid API Key"}
