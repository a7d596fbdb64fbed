"""SIGTERM with requests outlasting the grace period: each gets a problem+json 503, none a 500."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from sandbox.server import SandboxUrls
from tests.integration.kit import (
    config_data,
    product_jpeg,
    remove,
    set_fault,
    wait_for_calls,
    withoutbg,
    write_config,
)
from tests.integration.procs import established_connections, gateway_processes

IMAGE = product_jpeg(seed=13, size=96)


def test_requests_cut_at_the_end_of_the_grace_period_get_a_503(
    sandbox: SandboxUrls, tmp_path: Path, http: httpx.Client
) -> None:
    data = config_data(tmp_path, {"withoutbg": withoutbg(sandbox)},
                       server={"shutdown_grace_s": 1, "log_format": "json"})
    config = write_config(tmp_path / "gateway.toml", data)
    in_flight = 2
    set_fault(sandbox.withoutbg, count=in_flight, delay_s=4.0)
    vendor_port = int(sandbox.withoutbg.rsplit(":", 1)[1])
    idle = established_connections(vendor_port)
    with gateway_processes([config], tmp_path) as (gateway,), ThreadPoolExecutor(in_flight) as pool:
        futures = [
            pool.submit(remove, http, gateway.base, IMAGE, None, {"X-Request-Id": f"cut-{i}"},
                        provider="withoutbg")
            for i in range(in_flight)
        ]
        deadline = time.monotonic() + 30
        while established_connections(vendor_port) < idle + in_flight:
            assert time.monotonic() < deadline, "the requests never reached the vendor"
            time.sleep(0.02)
        stopped_at = time.monotonic()
        code = gateway.stop()
        answers = [future.result() for future in futures]
        took = time.monotonic() - stopped_at
        log = gateway.log_text()

    # The vendor's stalled handlers log their calls when their delay ends: wait for them, so
    # they do not land in the next test's log (the sandbox is shared).
    wait_for_calls(sandbox.withoutbg, "withoutbg", in_flight)
    assert code == 0, log[-2000:]
    assert took < 3.5, "the grace period was not enforced"
    for index, answer in enumerate(answers):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        body = answer.json()
        assert body["status"] == 503 and body["code"] == "no_provider_available"
        assert body["request_id"] == answer.headers["x-request-id"] == f"cut-{index}"
        assert answer.headers["retry-after"] == "1"
    events = [json.loads(line) for line in log.splitlines() if line.strip().startswith("{")]
    cut = [e for e in events if e.get("event") == "shutdown_cut_requests"]
    assert [e["cut"] for e in cut] == [in_flight], cut
    logged = [e for e in events if e.get("event") == "request" and e.get("status") == 503]
    assert sorted(e["request_id"] for e in logged) == [f"cut-{i}" for i in range(in_flight)]
    assert {e["error"] for e in logged} == {"no_provider_available"}
    assert not [e for e in events if e.get("event") == "unhandled_error"]
