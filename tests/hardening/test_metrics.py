"""Gateway Prometheus metrics: every record method shows up in render() with its labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient, create_test_client
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.metrics import GatewayMetrics, metrics_handler
from tests.api.conftest import gateway_settings
from tests.fakes import FakeProvider

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(metrics: GatewayMetrics) -> Samples:
    """Parse render() into {(sample name, labels): value}."""
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    parsed: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            parsed[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return parsed


def value(parsed: Samples, name: str, **labels: str) -> float | None:
    """One sample's value, None when absent."""
    return parsed.get((name, frozenset(labels.items())))


def test_requests_by_route_status_client() -> None:
    m = GatewayMetrics()
    m.observe_request("/v1/remove-background", 200, "alice")
    m.observe_request("/v1/remove-background", 200, "alice")
    m.observe_request("/v1/remove-background", "429", "bob")
    s = samples(m)
    name = "bg_gateway_requests_total"
    assert value(s, name, route="/v1/remove-background", status="200", client="alice") == 2
    assert value(s, name, route="/v1/remove-background", status="429", client="bob") == 1
    assert value(s, name, route="/v1/remove-background", status="200", client="bob") is None


def test_provider_latency_histogram() -> None:
    m = GatewayMetrics()
    m.observe_provider("withoutbg", 0.3, "ok")
    m.observe_provider("withoutbg", 3.0, "ok")
    m.observe_provider("withoutbg", 60.0, "timeout")
    s = samples(m)
    base = "bg_gateway_provider_latency_seconds"
    assert value(s, f"{base}_count", provider="withoutbg", outcome="ok") == 2
    assert value(s, f"{base}_sum", provider="withoutbg", outcome="ok") == pytest.approx(3.3)
    assert value(s, f"{base}_bucket", provider="withoutbg", outcome="ok", le="0.5") == 1
    assert value(s, f"{base}_bucket", provider="withoutbg", outcome="ok", le="4.0") == 2
    assert value(s, f"{base}_count", provider="withoutbg", outcome="timeout") == 1


def test_overhead_histogram() -> None:
    m = GatewayMetrics()
    m.observe_overhead(0.004)
    m.observe_overhead(0.2)
    s = samples(m)
    assert value(s, "bg_gateway_overhead_seconds_count") == 2
    assert value(s, "bg_gateway_overhead_seconds_bucket", le="0.005") == 1
    assert value(s, "bg_gateway_overhead_seconds_bucket", le="+Inf") == 2


def test_attempts_fallbacks_emulated_cache() -> None:
    m = GatewayMetrics()
    m.count_attempt("withoutbg", "rate_limited")
    m.count_attempt("local", "ok")
    m.count_fallback("rate_limited")
    m.count_emulated("crop")
    m.count_emulated("crop")
    m.count_emulated("despill")
    m.count_cache(True)
    m.count_cache(False)
    m.count_cache(False)
    s = samples(m)
    attempts = "bg_gateway_provider_attempts_total"
    assert value(s, attempts, provider="withoutbg", reason="rate_limited") == 1
    assert value(s, attempts, provider="local", reason="ok") == 1
    assert value(s, "bg_gateway_fallbacks_total", reason="rate_limited") == 1
    assert value(s, "bg_gateway_emulated_steps_total", step="crop") == 2
    assert value(s, "bg_gateway_emulated_steps_total", step="despill") == 1
    assert value(s, "bg_gateway_cache_lookups_total", result="hit") == 1
    assert value(s, "bg_gateway_cache_lookups_total", result="miss") == 2


def test_spend_per_provider() -> None:
    m = GatewayMetrics()
    m.add_spend("withoutbg", 1.0)
    m.add_spend("withoutbg", 0.25)
    m.add_spend("local", 0.0)
    s = samples(m)
    assert value(s, "bg_gateway_spend_total", provider="withoutbg") == pytest.approx(1.25)
    assert value(s, "bg_gateway_spend_total", provider="local") == 0
    with pytest.raises(ValueError):
        m.add_spend("withoutbg", -1.0)


def test_circuit_state_is_one_hot() -> None:
    m = GatewayMetrics()
    m.set_circuit("withoutbg", "open")
    m.set_circuit("withoutbg", "half-open")
    m.set_circuit("local", "closed")
    s = samples(m)
    name = "bg_gateway_circuit_state"
    assert value(s, name, provider="withoutbg", bg_gateway_circuit_state="half_open") == 1
    assert value(s, name, provider="withoutbg", bg_gateway_circuit_state="open") == 0
    assert value(s, name, provider="local", bg_gateway_circuit_state="closed") == 1
    with pytest.raises(ValueError):
        m.set_circuit("local", "broken")


def test_instances_have_separate_registries() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.count_cache(True)
    assert value(samples(first), "bg_gateway_cache_lookups_total", result="hit") == 1
    assert value(samples(second), "bg_gateway_cache_lookups_total", result="hit") is None


def test_handler_serves_the_registry() -> None:
    m = GatewayMetrics()
    m.count_fallback("timeout")
    with create_test_client(route_handlers=[metrics_handler(m)]) as client:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert 'bg_gateway_fallbacks_total{reason="timeout"} 1.0' in response.text
        assert "/metrics" not in client.get("/schema/openapi.json").text


async def test_gateway_metrics_route_has_one_charset_and_no_created_series(
    tmp_path: Path,
) -> None:
    settings = gateway_settings(tmp_path)
    app = create_app(settings, providers={"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as client:
        await client.get("/health")
        response = await client.get("/metrics")
    assert response.status_code == 200
    content_type = response.headers["content-type"]
    assert content_type.startswith("text/plain")
    assert content_type.count("charset") == 1, content_type
    assert "_created" not in response.text
    assert "bg_gateway_requests_total" in response.text
