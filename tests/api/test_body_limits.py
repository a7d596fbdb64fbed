"""Hostile bodies: deep JSON, too many fields or parts get a 400/413 with a documented code."""

from __future__ import annotations

import base64

import pytest
from litestar.testing import AsyncTestClient

from gateway.api.body_limits import MAX_FIELDS, MAX_JSON_DEPTH, MAX_NESTED_VALUES, check_depth
from gateway.errors import InvalidOption
from tests.api.test_bad_input import JPEG, assert_problem
from tests.fakes import FakeProvider

#: The five routes that take a JSON body.
JSON_ROUTES = ("/v1/remove-background", "/v1/compare", "/v1.0/removebg", "/v2",
               "/v1.0/image-without-background-base64")
DEEP = b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}"  # 1,000 deep, 2 KB


@pytest.mark.parametrize("route", JSON_ROUTES)
async def test_deeply_nested_json_is_a_400_on_every_json_route(
    client: AsyncTestClient, fake: FakeProvider, route: str
) -> None:
    response = await client.post(route, content=DEEP, headers={"content-type": "application/json"})
    # withoutBG's own shape answers a malformed body 422 (FastAPI validation), the others 400.
    assert response.status_code == (422 if "without" in route else 400), response.text
    assert "Traceback" not in response.text and "Recursion" not in response.text
    if route.startswith("/v1/"):
        assert_problem(response, 400, "invalid_option", "nested")
    assert fake.calls == []


async def test_json_nested_just_within_the_limit_reaches_option_checks(
    client: AsyncTestClient,
) -> None:
    inner = b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1)
    body = b'{"image_base64": "' + base64.b64encode(JPEG) + b'", "extra": ' + inner + b"}"
    response = await client.post("/v1/remove-background", content=body,
                                 headers={"content-type": "application/json"})
    # Parsed fine; then the unknown key is named (not a depth complaint).
    assert_problem(response, 400, "invalid_option", "extra")


async def test_json_with_too_many_keys_is_a_400(client: AsyncTestClient) -> None:
    keys = ", ".join(f'"k{i}": 1' for i in range(MAX_FIELDS + 1))
    response = await client.post("/v1/remove-background", content="{" + keys + "}",
                                 headers={"content-type": "application/json"})
    assert_problem(response, 400, "invalid_option", "fields")


async def test_multipart_with_too_many_parts_is_a_413(
    client: AsyncTestClient, fake: FakeProvider
) -> None:
    data = {f"x{i}": "1" for i in range(MAX_FIELDS + 5)}
    response = await client.post("/v1/remove-background",
                                 files={"image_file": ("a.jpg", JPEG)}, data=data)
    assert_problem(response, 413, "payload_too_large", "parts")
    assert fake.calls == []


async def test_urlencoded_with_too_many_fields_is_a_400(client: AsyncTestClient) -> None:
    body = "&".join(f"x{i}=1" for i in range(MAX_FIELDS + 1))
    response = await client.post(
        "/v1/remove-background", content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 400, "invalid_option", "fields")


async def test_malformed_multipart_is_a_documented_400(client: AsyncTestClient) -> None:
    response = await client.post(
        "/v1/remove-background", content=b"--xyz\r\nnot a header\r\n\r\n",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert_problem(response, 400, "invalid_option", "multipart")


def test_check_depth_counts_containers_only() -> None:
    check_depth({"a": [1, {"b": "c"}]})
    nested: object = 1
    for _ in range(MAX_JSON_DEPTH + 1):
        nested = [nested]
    with pytest.raises(InvalidOption, match="nested"):
        check_depth(nested)


async def test_json_with_a_huge_nested_value_is_a_400(client: AsyncTestClient) -> None:
    wide = "[" + ",".join("1" for _ in range(MAX_NESTED_VALUES + 1)) + "]"
    response = await client.post("/v1/remove-background", content='{"x": ' + wide + "}",
                                 headers={"content-type": "application/json"})
    assert_problem(response, 400, "invalid_option", "nested values")
