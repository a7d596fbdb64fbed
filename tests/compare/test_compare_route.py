"""`POST /v1/compare` over FakeProviders: per-provider outcomes and the metrics plumbing."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from providers.base import Capabilities, ProviderResult
from providers.errors import ProviderAuthError
from tests.compare.conftest import (
    centre_box,
    compare_app,
    compare_settings,
    fake_configs,
    photo,
    png,
)
from tests.fakes import FakeProvider
from tests.imaging import decode

MASK = Capabilities(output="mask")


def shifted_mask(provider: str) -> ProviderResult:
    """A mask answer: the centre box moved one pixel to the right."""
    return ProviderResult(data=png(np.roll(centre_box(), 1, axis=1)), media_type="image/png",
                          kind="mask", provider=provider, cost=0.5)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncTestClient]:
    """Three providers: two centre-box fakes (`a`, `b`) and `shift`, one pixel off."""
    providers = {
        "a": FakeProvider("a", cost=1.0),
        "b": FakeProvider("b", cost=2.0),
        "shift": FakeProvider("shift", capabilities=MASK, script=[shifted_mask("shift")]),
    }
    settings = compare_settings(tmp_path, fake_configs(*providers))
    async with AsyncTestClient(app=compare_app(settings, providers)) as test_client:
        yield test_client


def by_provider(body: dict) -> dict[str, dict]:
    return {row["provider"]: row for row in body["providers"]}


async def test_against_ground_truth_reports_zero_for_identical_and_the_shift_sad(
    client: AsyncTestClient,
) -> None:
    response = await client.post("/v1/compare", files={
        "image_file": ("p.png", photo()), "ground_truth": ("gt.png", png(centre_box())),
    })
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ground_truth"] is True
    assert (body["width"], body["height"]) == (64, 64)
    rows = by_provider(body)
    assert list(rows) == ["a", "b", "shift"]  # default: every enabled provider, config order
    exact = rows["a"]["quality"]
    assert exact["against"] == "ground_truth"
    assert exact["sad"] == 0.0 and exact["mse"] == 0.0 and exact["iou"] == 1.0
    assert exact["gradient"] == 0.0 and exact["connectivity"] == 0.0
    off = rows["shift"]["quality"]
    # One 32-pixel column gained and one lost (the hand-computed case of tests/quality).
    assert off["sad"] == pytest.approx(64 / 1000, abs=1e-6)
    assert off["mse"] == pytest.approx(64 / (64 * 64), abs=1e-6)
    assert off["iou"] == pytest.approx(31 / 33, abs=1e-6)


async def test_each_row_has_status_latency_cost_and_size(client: AsyncTestClient) -> None:
    response = await client.post("/v1/compare", files={"image_file": ("p.png", photo())})
    rows = by_provider(response.json())
    for name, cost in (("a", 1.0), ("b", 2.0), ("shift", 0.5)):
        row = rows[name]
        assert row["status"] == "ok"
        assert row["cost"] == cost
        assert row["latency_ms"] >= 0 and row["bytes"] > 0
        assert (row["width"], row["height"], row["media_type"]) == (64, 64, "image/png")
        assert [a["provider"] for a in row["attempts"]] == [name]


async def test_images_true_puts_each_served_cut_out_in_the_report(
    client: AsyncTestClient,
) -> None:
    plain = by_provider((await client.post(
        "/v1/compare", files={"image_file": ("p.png", photo())})).json())
    assert all("image_base64" not in row for row in plain.values())
    response = await client.post("/v1/compare", files={"image_file": ("p.png", photo())},
                                 data={"images": "true"})
    assert response.status_code == 200, response.text
    for name, row in by_provider(response.json()).items():
        data = base64.b64decode(row["image_base64"])
        assert len(data) == row["bytes"], name
        assert decode(data).size == (row["width"], row["height"])
    bad = await client.post("/v1/compare", files={"image_file": ("p.png", photo())},
                            data={"images": "maybe"})
    assert bad.status_code == 400 and "images" in bad.json()["detail"]


async def test_without_ground_truth_reports_pairwise_agreement(client: AsyncTestClient) -> None:
    response = await client.post("/v1/compare", files={"image_file": ("p.png", photo())})
    rows = by_provider(response.json())
    same = rows["a"]["quality"]
    assert same["against"] == "pairwise"
    assert same["agreement"]["b"] == {"iou": 1.0, "sad": 0.0, "mad": 0.0}
    assert same["agreement"]["shift"]["iou"] == pytest.approx(31 / 33, abs=1e-6)
    assert same["agreement"]["shift"]["sad"] == pytest.approx(0.064, abs=1e-6)
    assert rows["shift"]["quality"]["agreement"]["a"] == same["agreement"]["shift"]
    assert same["partial_share"] == 0.0  # hard-edged box: no soft pixels


async def test_alpha_channel_output_is_scored_too(client: AsyncTestClient) -> None:
    response = await client.post(
        "/v1/compare?providers=a,shift&channels=alpha",
        files={"image_file": ("p.png", photo()), "ground_truth": ("gt.png", png(centre_box()))},
    )
    rows = by_provider(response.json())
    assert list(rows) == ["a", "shift"]
    assert rows["a"]["quality"]["sad"] == 0.0
    assert rows["shift"]["quality"]["sad"] == pytest.approx(0.064, abs=1e-6)


async def test_jpg_output_has_a_note_instead_of_metrics(client: AsyncTestClient) -> None:
    response = await client.post("/v1/compare?providers=a,b&format=jpg",
                                 files={"image_file": ("p.png", photo())})
    row = by_provider(response.json())["a"]
    assert row["status"] == "ok" and row["media_type"] == "image/jpeg"
    assert "quality" not in row
    assert "jpg" in row["quality_note"]


async def test_a_failing_provider_is_an_error_row_not_a_failed_request(tmp_path: Path) -> None:
    providers = {"good": FakeProvider("good"),
                 "down": FakeProvider("down", script=[ProviderAuthError])}
    settings = compare_settings(tmp_path, fake_configs(*providers))
    async with AsyncTestClient(app=compare_app(settings, providers)) as client:
        response = await client.post("/v1/compare", files={"image_file": ("p.png", photo())})
    assert response.status_code == 200
    rows = by_provider(response.json())
    assert rows["down"]["status"] == "error"
    assert rows["down"]["error"] == "provider_error" and rows["down"]["error_status"] == 502
    assert [a["outcome"] for a in rows["down"]["attempts"]] == ["auth"]
    assert len(providers["good"].calls) == 1  # pinned without fallback: `down` fell to no one
    assert rows["good"]["status"] == "ok"
    assert "needs two" in rows["good"]["quality_note"]


async def test_json_body_with_base64_ground_truth(client: AsyncTestClient) -> None:
    response = await client.post("/v1/compare", json={
        "image_base64": base64.b64encode(photo()).decode(),
        "ground_truth_base64": base64.b64encode(png(centre_box())).decode(),
        "providers": "a",
    })
    assert response.status_code == 200, response.text
    assert by_provider(response.json())["a"]["quality"]["iou"] == 1.0


@pytest.mark.parametrize(
    ("query", "files", "status", "code"),
    [
        ("?providers=a,nope", {}, 400, "invalid_option"),
        ("?provider=a", {}, 400, "invalid_option"),
        ("?colour=red", {}, 400, "invalid_option"),
        ("?tile=9999&sheet=true", {}, 400, "invalid_option"),
        ("", {"ground_truth": ("gt.png", png(centre_box(32, 32)))}, 422, "invalid_image"),
        ("", {"ground_truth": ("gt.png", b"not an image")}, 422, "invalid_image"),
    ],
)
async def test_client_faults_are_problems_and_call_no_provider(
    tmp_path: Path, query: str, files: dict, status: int, code: str,
) -> None:
    providers = {"a": FakeProvider("a")}
    settings = compare_settings(tmp_path, fake_configs("a"))
    async with AsyncTestClient(app=compare_app(settings, providers)) as client:
        response = await client.post(
            "/v1/compare" + query, files={"image_file": ("p.png", photo()), **files}
        )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert providers["a"].calls == []


async def test_missing_image_is_a_problem(client: AsyncTestClient) -> None:
    response = await client.post("/v1/compare", data={"providers": "a"})
    assert response.status_code == 400
    assert response.json()["code"] == "missing_image"


async def test_the_served_images_follow_the_options(client: AsyncTestClient) -> None:
    response = await client.post(
        "/v1/compare?providers=a&sheet=true&tile=32",
        files={"image_file": ("p.png", photo())}, headers={"Accept": "application/json"},
    )
    body = response.json()
    assert body["report"]["providers"][0]["provider"] == "a"
    sheet = decode(base64.b64decode(body["sheet_base64"]))
    assert sheet.format == "PNG"
