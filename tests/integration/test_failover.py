"""Issue 4: failover between real vendors over HTTP (the sandbox injects the faults)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.settings import Settings
from sandbox.server import SandboxUrls
from tests.integration.kit import (
    attempts,
    backgrounderase,
    image_calls,
    product_jpeg,
    provider_status,
    remove,
    running_gateway,
    set_fault,
    settings_for,
    vendor_logs,
    wait_for_calls,
    withoutbg,
)

IMAGE = product_jpeg(seed=7, size=160)
ROUTING = {"allowed_fails": 3, "fail_window_s": 60, "cooldown_s": 30, "max_attempts": 3}


def _pair(sandbox: SandboxUrls, tmp_path: Path, routing: dict[str, Any] | None = None,
          **withoutbg_fields: Any) -> Settings:
    """Settings: withoutbg (priority 10) then backgrounderase (priority 20), nothing else."""
    providers = {
        "withoutbg": withoutbg(sandbox, **withoutbg_fields),
        "backgrounderase": backgrounderase(sandbox),
    }
    return settings_for(tmp_path, providers, routing={**ROUTING, **(routing or {})})


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["status"] == status
    return body


def test_a_failing_vendor_fails_over_then_its_circuit_opens(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    """A answers 500 to everything: B serves every request; after allowed_fails A is skipped."""
    set_fault(sandbox.withoutbg, status=500, count=1000)
    settings = _pair(sandbox, tmp_path, routing={"cooldown_s": 1.0})
    with running_gateway(settings) as base:
        for _ in range(3):
            response = remove(http, base, IMAGE)
            assert response.status_code == 200, response.text
            assert response.headers["x-provider"] == "backgrounderase"
            assert attempts(response) == ["withoutbg=unavailable", "backgrounderase=ok"]
        calls = image_calls(sandbox.withoutbg, "withoutbg")
        assert len(calls) == 3 and all(c["status"] == 500 for c in calls)
        assert provider_status(http, base, "withoutbg")["circuit"] == "open"

        for _ in range(3):
            response = remove(http, base, IMAGE)
            assert response.status_code == 200
            assert attempts(response) == ["withoutbg=skipped:cooldown", "backgrounderase=ok"]
        assert len(image_calls(sandbox.withoutbg, "withoutbg")) == 3, "A must not be called"

        # Once the cooldown is over, exactly one trial request goes to A (and fails again).
        deadline = time.monotonic() + 15
        while provider_status(http, base, "withoutbg")["circuit"] == "open":
            assert time.monotonic() < deadline, "the circuit never left `open`"
            time.sleep(0.1)
        response = remove(http, base, IMAGE)
        assert response.status_code == 200
        assert attempts(response)[0] == "withoutbg=unavailable"
        assert len(image_calls(sandbox.withoutbg, "withoutbg")) == 4
        response = remove(http, base, IMAGE)
        assert attempts(response)[0] == "withoutbg=skipped:cooldown"
        assert len(image_calls(sandbox.withoutbg, "withoutbg")) == 4


def test_429_with_retry_after_cools_the_vendor_down(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    """A 429 + Retry-After puts A in cooldown (visible in /v1/providers) and it is skipped."""
    set_fault(sandbox.withoutbg, status=429, count=1, retry_after=30)
    with running_gateway(_pair(sandbox, tmp_path)) as base:
        first = remove(http, base, IMAGE)
        assert first.status_code == 200
        assert attempts(first) == ["withoutbg=rate_limited", "backgrounderase=ok"]
        status = provider_status(http, base, "withoutbg")
        assert 0 < status["cooldown_s"] <= 30
        second = remove(http, base, IMAGE)
        assert second.status_code == 200
        assert attempts(second) == ["withoutbg=skipped:cooldown", "backgrounderase=ok"]
        assert len(image_calls(sandbox.withoutbg, "withoutbg")) == 1


def test_gateway_rate_limit_sends_the_next_request_elsewhere(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    """withoutbg at its per-minute limit: the 4th request goes to the next provider at once."""
    with running_gateway(_pair(sandbox, tmp_path, rate_limit="3/minute")) as base:
        for _ in range(3):
            response = remove(http, base, IMAGE)
            assert response.status_code == 200
            assert response.headers["x-provider"] == "withoutbg"
        fourth = remove(http, base, IMAGE)
        assert fourth.status_code == 200
        assert fourth.headers["x-provider"] == "backgrounderase"
        assert attempts(fourth) == ["withoutbg=skipped:rate_limited", "backgrounderase=ok"]
        assert provider_status(http, base, "withoutbg")["headroom"] == 0
    calls = image_calls(sandbox.withoutbg, "withoutbg")
    assert len(calls) == 3 and all(c["status"] == 200 for c in calls)


def test_every_candidate_unavailable_is_503_with_retry_after(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    """Both vendors say 429: 503 no_provider_available, Retry-After and the attempts list."""
    set_fault(sandbox.withoutbg, status=429, count=10, retry_after=20)
    set_fault(sandbox.backgrounderase, status=429, count=10, retry_after=40)
    with running_gateway(_pair(sandbox, tmp_path)) as base:
        response = remove(http, base, IMAGE)
        body = _problem(response, 503, "no_provider_available")
        assert [(a["provider"], a["outcome"]) for a in body["attempts"]] == [
            ("withoutbg", "rate_limited"), ("backgrounderase", "rate_limited"),
        ]
        assert 1 <= int(response.headers["retry-after"]) <= 20
        # Both now cool down: the next request calls nobody and still says when to come back.
        again = remove(http, base, IMAGE)
        body = _problem(again, 503, "no_provider_available")
        assert [a["outcome"] for a in body["attempts"]] == ["skipped:cooldown"] * 2
        assert 1 <= int(again.headers["retry-after"]) <= 20
    logs = vendor_logs(sandbox)
    assert len(logs["withoutbg"]) == 1 and len(logs["backgrounderase"]) == 1


def test_every_candidate_broken_is_502(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    """Both vendors answer 500: 502 provider_error with the attempts (no Retry-After promise)."""
    set_fault(sandbox.withoutbg, status=500, count=10)
    set_fault(sandbox.backgrounderase, status=500, count=10)
    with running_gateway(_pair(sandbox, tmp_path)) as base:
        response = remove(http, base, IMAGE)
    body = _problem(response, 502, "provider_error")
    outcomes = {a["outcome"] for a in body["attempts"]}
    assert outcomes == {"unavailable"}
    assert {a["provider"] for a in body["attempts"]} == {"withoutbg", "backgrounderase"}


def test_a_slow_vendor_times_out_and_the_gateway_falls_back(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    """A stalls longer than its timeout_s: B answers; the trail says `timeout`."""
    set_fault(sandbox.withoutbg, count=1, delay_s=1.5)
    with running_gateway(_pair(sandbox, tmp_path, timeout_s=0.4)) as base:
        response = remove(http, base, IMAGE)
    wait_for_calls(sandbox.withoutbg, "withoutbg", 1)  # let the stalled call finish here
    assert response.status_code == 200, response.text
    assert response.headers["x-provider"] == "backgrounderase"
    assert attempts(response) == ["withoutbg=timeout", "backgrounderase=ok"]


def test_a_slow_only_candidate_is_504(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    """Pinned to the slow vendor (no fallback): 504 provider_timeout with the timeouts listed."""
    set_fault(sandbox.withoutbg, count=10, delay_s=1.5)
    settings = _pair(sandbox, tmp_path, routing={"max_attempts": 2}, timeout_s=0.4)
    with running_gateway(settings) as base:
        response = remove(http, base, IMAGE, provider="withoutbg")
    wait_for_calls(sandbox.withoutbg, "withoutbg", 2)  # one stalled call per attempt
    body = _problem(response, 504, "provider_timeout")
    assert body["attempts"] and {a["outcome"] for a in body["attempts"]} == {"timeout"}
    assert {a["provider"] for a in body["attempts"]} == {"withoutbg"}


@pytest.mark.parametrize("payload", [
    b"\xff\xd8\xff\xe0" + b"\x00garbage" * 64,  # sniffs as JPEG, cannot be decoded
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # a PNG signature and nothing usable
])
def test_a_corrupt_image_never_reaches_a_vendor(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client, payload: bytes
) -> None:
    """422 invalid_image before routing: no vendor saw the request."""
    with running_gateway(_pair(sandbox, tmp_path)) as base:
        response = remove(http, base, payload)
    body = _problem(response, 422, "invalid_image")
    assert "attempts" not in body
    assert vendor_logs(sandbox) == {"withoutbg": [], "backgrounderase": [], "backgroundcut": []}
