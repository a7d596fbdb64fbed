"""Experiments through `POST /v1/remove-background` (once the route hook is wired in)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from gateway.api.options import OPTION_KEYS
from tests.compare.conftest import compare_app, compare_settings, fake_configs, photo
from tests.compare.test_experiments import GatedProvider, opaque_mask
from tests.fakes import FakeProvider
from tests.imaging import decode

pytestmark = pytest.mark.skipif(
    "experiment" not in OPTION_KEYS,
    reason="the `experiment` option is not wired into /v1/remove-background yet",
)


async def test_answer_arrives_while_the_mirror_is_still_running(tmp_path: Path) -> None:
    gate, events = asyncio.Event(), []
    providers = {"a": FakeProvider("a", cost=1.0), "b": FakeProvider("b", cost=1.0),
                 "s": GatedProvider("s", gate, events, opaque_mask)}
    experiments = {"ab": {"variants": {"a": 1, "b": 1}, "mirror": ["s"], "mirror_share": 1.0}}
    settings = compare_settings(tmp_path, fake_configs(*providers), experiments)
    async with AsyncTestClient(app=compare_app(settings, providers)) as client:
        first = await asyncio.wait_for(client.post(
            "/v1/remove-background?experiment=ab", files={"image_file": ("p.png", photo())},
            headers={"X-Routing-Key": "customer-7"},
        ), timeout=30)
        events.append("answered")
        second = await asyncio.wait_for(client.post(
            "/v1/remove-background", files={"image_file": ("p.png", photo())},
            headers={"X-Routing-Key": "customer-7", "X-Experiment": "ab"},
        ), timeout=30)
        gate.set()
        for _ in range(200):  # the mirrors finish on their own once the gate opens
            report = (await client.get("/v1/experiments/ab")).json()
            variant = {v["provider"]: v for v in report["variants"]}[first.headers["x-variant"]]
            if variant["mirror"][0]["compared"] == 2:
                break
            await asyncio.sleep(0.02)
    assert first.status_code == second.status_code == 200
    assert events.index("answered") < events.index("mirror_done")
    assert first.headers["x-experiment"] == "ab"
    assert first.headers["x-variant"] == second.headers["x-variant"] == first.headers["x-provider"]
    alpha = np.asarray(decode(first.content).getchannel("A"))
    assert alpha[0, 0] == 0 and alpha[32, 32] == 255  # the variant's answer, not the mirror's
    assert variant["requests"] == 2 and variant["spend"] == pytest.approx(2.0)
    assert variant["mirror"][0]["compared"] == 2
    assert variant["mirror"][0]["mean_iou"] == pytest.approx(0.25)


async def test_unknown_experiment_is_a_problem(tmp_path: Path) -> None:
    providers = {"a": FakeProvider("a")}
    settings = compare_settings(tmp_path, fake_configs("a"), {"ab": {"variants": {"a": 1}}})
    async with AsyncTestClient(app=compare_app(settings, providers)) as client:
        response = await client.post("/v1/remove-background?experiment=nope",
                                     files={"image_file": ("p.png", photo())})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_option"
    assert providers["a"].calls == []
