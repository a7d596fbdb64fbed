"""The drop-in routers mount on create_app's app and keep their error shapes to themselves."""

from __future__ import annotations

import pytest
from litestar import Router
from litestar.exceptions import HTTPException
from litestar.testing import AsyncTestClient

from gateway.api.dropin_backgrounderase import BACKGROUNDERASE_ROUTES
from gateway.api.dropin_removebg import REMOVEBG_ROUTES
from gateway.api.dropin_withoutbg import WITHOUTBG_ROUTES
from gateway.errors import GatewayError
from tests.dropin.conftest import photo


@pytest.mark.parametrize("router", [WITHOUTBG_ROUTES, BACKGROUNDERASE_ROUTES, REMOVEBG_ROUTES])
def test_routers_carry_their_own_error_handlers(router: Router) -> None:
    """Each export is a Router whose handlers cover gateway, framework and unexpected errors."""
    assert isinstance(router, Router)
    assert {GatewayError, HTTPException, Exception} <= set(router.exception_handlers)


async def test_unified_api_keeps_problem_json(client: AsyncTestClient) -> None:
    """Mounting the drop-ins leaves the unified API's problem+json (and 404s) untouched."""
    unified = await client.post("/v1/remove-background", json={})
    assert unified.status_code == 400
    assert unified.headers["content-type"] == "application/problem+json"
    assert unified.json()["code"] == "missing_image"
    missing = await client.get("/v1.0/no-such-endpoint")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_same_fault_three_vendor_shapes(client: AsyncTestClient) -> None:
    """One corrupt image, answered in each vendor's own error shape."""
    files = {"file": ("a.jpg", photo()[:150], "image/jpeg")}
    withoutbg = await client.post("/v1.0/image-without-background", files=files)
    erase = await client.post("/v2", files={"image_file": files["file"]})
    removebg = await client.post("/v1.0/removebg", files={"image_file": files["file"]})
    assert (withoutbg.status_code, withoutbg.json()) == (422, {"detail": "Validation Error"})
    assert erase.status_code == 422 and erase.json()["error"]["code"] == "invalid_image"
    assert removebg.status_code == 400 and removebg.json()["errors"][0]["code"] == "invalid_image"
    for response in (withoutbg, erase, removebg):
        assert response.headers["x-error-code"] == "invalid_image"
        assert response.headers["x-request-id"]


async def test_openapi_lists_drop_in_paths(client: AsyncTestClient) -> None:
    """The drop-in routes appear in the gateway's OpenAPI document."""
    schema = (await client.get("/schema/openapi.json")).json()
    for path in ("/v1.0/image-without-background", "/v1.0/alpha-channel-base64",
                 "/available-credit", "/v2", "/v2/health", "/v1.0/removebg"):
        assert path in schema["paths"], path
