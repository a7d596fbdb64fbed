"""Issue 6 over real processes: durable ledger, graceful shutdown, no key in logs or answers."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from gateway.keys import hash_client_key, new_client_key
from sandbox.options import WITHOUTBG_EXPIRED_KEY
from sandbox.server import SandboxUrls
from tests.integration.kit import (
    VENDOR_KEYS,
    backgroundcut,
    backgrounderase,
    config_data,
    local,
    product_jpeg,
    product_with_trimap,
    remove,
    set_fault,
    withoutbg,
    write_config,
)
from tests.integration.procs import established_connections, gateway_processes

IMAGE = product_jpeg(seed=11, size=160)


def _usage_images(http: httpx.Client, base: str, headers: dict[str, str] | None = None) -> int:
    response = http.get(f"{base}/v1/usage", headers=headers or {})
    assert response.status_code == 200, response.text
    return sum(row["images"] for row in response.json()["usage"])


def test_sqlite_ledger_survives_a_restart(tmp_path: Path, http: httpx.Client) -> None:
    """Images served before a restart still show in GET /v1/usage after it."""
    config = write_config(tmp_path / "gateway.toml", config_data(tmp_path, {"local": local()}))
    with gateway_processes([config], tmp_path) as (first,):
        for _ in range(2):
            assert remove(http, first.base, IMAGE).status_code == 200
        assert _usage_images(http, first.base) == 2
        assert first.stop() == 0
    with gateway_processes([config], tmp_path) as (second,):
        rows = http.get(f"{second.base}/v1/usage").json()["usage"]
    assert [(r["client"], r["provider"], r["images"]) for r in rows] == [
        ("anonymous", "local", 2)
    ]


def test_sigterm_lets_in_flight_requests_finish(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    """Slow requests in flight when SIGTERM arrives are all answered 200; the exit code is 0."""
    data = config_data(tmp_path, {"withoutbg": withoutbg(sandbox)},
                       server={"shutdown_grace_s": 30, "log_format": "json"})
    config = write_config(tmp_path / "gateway.toml", data)
    in_flight = 3
    set_fault(sandbox.withoutbg, count=in_flight, delay_s=2.0)
    vendor_port = int(sandbox.withoutbg.rsplit(":", 1)[1])
    idle = established_connections(vendor_port)
    with gateway_processes([config], tmp_path) as (gateway,), ThreadPoolExecutor(in_flight) as pool:
        futures = [
            pool.submit(remove, http, gateway.base, IMAGE, provider="withoutbg")
            for _ in range(in_flight)
        ]
        # In flight = each request holds its own connection to the stalled vendor.
        deadline = time.monotonic() + 30
        while established_connections(vendor_port) < idle + in_flight:
            assert time.monotonic() < deadline, "the requests never reached the vendor"
            time.sleep(0.02)
        code = gateway.stop()
        responses = [future.result() for future in futures]
        assert [r.status_code for r in responses] == [200] * in_flight
        assert all(r.headers["x-provider"] == "withoutbg" for r in responses)
        assert code == 0, gateway.log_text()[-2000:]


def _scan_requests(
    http: httpx.Client, base: str, client_key: str, sandbox: SandboxUrls
) -> list[httpx.Response]:
    """A run's worth of traffic: every vendor, failovers, vendor and client errors, reports."""
    image, trimap = product_with_trimap(seed=13, size=160)
    as_key = {"X-API-Key": client_key}
    as_bearer = {"Authorization": f"Bearer {client_key}"}
    answers = [
        remove(http, base, image, headers=as_key, provider="withoutbg"),
        remove(http, base, image, headers=as_bearer, provider="backgrounderase"),
        remove(http, base, image, trimap, headers=as_key, provider="backgroundcut"),
        remove(http, base, image, headers=as_key, provider="withoutbg_expired", fallback="true"),
        remove(http, base, image, headers={"X-API-Key": "bgw_" + "x" * 43}),  # wrong key
        remove(http, base, image),  # no key
        remove(http, base, b"\xff\xd8\xff" + b"junk" * 10, headers=as_key),
    ]
    set_fault(sandbox.withoutbg, status=500, count=1)
    answers.append(remove(http, base, image, headers=as_key))
    set_fault(sandbox.withoutbg, status=429, count=1, retry_after=5)
    answers.append(remove(http, base, image, headers=as_bearer))
    set_fault(sandbox.backgrounderase, status=401, count=1)
    answers.append(remove(http, base, image, headers=as_key, provider="backgrounderase",
                          fallback="false"))
    for path in ("/v1/providers", "/v1/credits", "/v1/usage", "/metrics", "/ready",
                 "/schema/openapi.json"):
        answers.append(http.get(base + path, headers=as_key))
    return answers


def test_no_key_appears_in_logs_or_answers(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    """Vendor keys and client keys never show in the JSON log lines or in any answer."""
    client_key, _ = new_client_key("shop")
    providers: dict[str, dict[str, Any]] = {
        "withoutbg": withoutbg(sandbox),
        "withoutbg_expired": withoutbg(sandbox, api_key=WITHOUTBG_EXPIRED_KEY, priority=15),
        "backgrounderase": backgrounderase(sandbox),
        "backgroundcut": backgroundcut(sandbox),
        "local": local(),
    }
    data = config_data(
        tmp_path, providers, server={"log_format": "json"}, auth={"required": True},
        clients={"shop": {"key_sha256": hash_client_key(client_key)}},
    )
    config = write_config(tmp_path / "gateway.toml", data)
    with gateway_processes([config], tmp_path) as (gateway,):
        answers = _scan_requests(http, gateway.base, client_key, sandbox)
        assert gateway.stop() == 0
        log = gateway.log_text()

    statuses = [a.status_code for a in answers]
    assert statuses[:4] == [200, 200, 200, 200] and statuses[4:7] == [401, 401, 422]
    assert answers[3].headers["x-attempts"].startswith("withoutbg_expired=out_of_credits")
    assert answers[9].status_code == 502 and answers[9].json()["attempts"][0]["outcome"] == "auth"
    secrets = [*VENDOR_KEYS, WITHOUTBG_EXPIRED_KEY, client_key, "bgw_" + "x" * 43]
    for answer in answers:
        text = answer.content.decode("latin-1") + json.dumps(dict(answer.headers))
        for secret in secrets:
            assert secret not in text, f"a key leaked into {answer.request.url.path}"
    for secret in secrets:
        assert secret not in log, "a key leaked into the log"

    # log_format = "json": every line, uvicorn's and litestar's included, is one JSON event.
    events = [json.loads(line) for line in log.splitlines() if line.strip()]
    requests = [e for e in events if e.get("event") == "request"]
    assert len(requests) >= len(answers) - 1  # /metrics is not logged per request
    assert {e["status"] for e in requests} >= {200, 401, 422, 502}
    assert all(e.get("request_id") for e in requests)
