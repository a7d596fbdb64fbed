"""Experiment counters shared through Redis by two gateway instances, read back over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from gateway.compare.stats import LATENCY_BUCKETS_MS, quantile
from tests.compare.conftest import REDIS_URL, compare_app, compare_settings, fake_configs
from tests.compare.test_experiments import serve, started
from tests.fakes import FakeProvider


def test_quantiles_interpolate_inside_the_bucket() -> None:
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    assert quantile(counts, 0.5) is None
    counts[3] = 10  # ten answers between 50 and 100 ms
    assert quantile(counts, 0.5) == 75.0
    assert quantile(counts, 0.95) == 97.5
    counts[-1] = 90  # and ninety slower than the last bound
    assert quantile(counts, 0.95) == LATENCY_BUCKETS_MS[-1]


async def test_two_instances_add_to_the_same_counters(tmp_path: Path, redis_prefix: str) -> None:
    state = {"state": {"backend": "redis", "redis_url": REDIS_URL, "key_prefix": redis_prefix}}
    experiments = {"ab": {"variants": {"a": 50, "b": 50}}}
    settings = compare_settings(tmp_path, fake_configs("a", "b"), experiments, state)

    def fakes() -> dict[str, FakeProvider]:
        return {"a": FakeProvider("a", cost=1.0), "b": FakeProvider("b", cost=2.0)}

    keys = [f"customer-{i}" for i in range(6)]
    async with started(settings, fakes()) as first, started(settings, fakes()) as second:
        one = [(await serve(first, key=key)).variant for key in keys]
        two = [(await serve(second, key=key)).variant for key in keys]
    assert one == two  # sticky across instances: the key alone decides
    async with AsyncTestClient(app=compare_app(settings, fakes())) as client:
        response = await client.get("/v1/experiments/ab")
        missing = await client.get("/v1/experiments/nope")
        listing = await client.get("/v1/experiments")
    assert response.status_code == 200, response.text
    body = response.json()
    rows = {row["provider"]: row for row in body["variants"]}
    assert sum(row["requests"] for row in rows.values()) == 12
    for name, cost in (("a", 1.0), ("b", 2.0)):
        served = 2 * one.count(name)
        assert rows[name]["requests"] == served
        assert rows[name]["spend"] == pytest.approx(served * cost)
        assert rows[name]["latency"]["samples"] == served
        if served:
            assert rows[name]["error_rate"] == 0.0
            assert rows[name]["latency"]["p50_ms"] <= rows[name]["latency"]["p95_ms"]
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert listing.json()["experiments"]["ab"]["variants"] == {"a": 50.0, "b": 50.0}
