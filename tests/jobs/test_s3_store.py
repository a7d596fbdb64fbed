"""The S3 result store against a local S3-compatible server (moto's server mode on loopback)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.jobs.store import S3Store, input_key, result_key
from gateway.settings import JobsSettings, parse_settings
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeProvider
from tests.integration.kit import product_jpeg
from tests.servers import free_port

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")
JOB = "b" * 32


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a loopback port, with fake credentials in the environment."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.HTTPError:
            assert process.poll() is None and time.monotonic() < deadline, "moto did not start"
            time.sleep(0.1)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", "us-east-1")):
            patch.setenv(name, value)
        try:
            yield endpoint
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()


def _settings(endpoint: str, bucket: str) -> JobsSettings:
    return JobsSettings(result_store="s3", s3_bucket=bucket, s3_endpoint_url=endpoint,
                        s3_prefix="jobs/")


def _bucket(endpoint: str, name: str) -> None:
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)


async def test_put_get_replace_delete_and_sweep(s3_endpoint: str) -> None:
    """Objects round-trip, a second put replaces, absent is None, the sweep honours the TTL."""
    _bucket(s3_endpoint, "store-test")
    store = S3Store.from_settings(_settings(s3_endpoint, "store-test"))
    await store.put(result_key(JOB, 0), b"first")
    await store.put(result_key(JOB, 0), b"second")
    await store.put(input_key(JOB, 1), b"input")
    assert await store.get(result_key(JOB, 0)) == b"second"
    assert await store.get(result_key(JOB, 9)) is None
    await store.delete(input_key(JOB, 1))
    assert await store.get(input_key(JOB, 1)) is None
    assert await store.sweep(3600) == 0
    assert await store.get(result_key(JOB, 0)) == b"second"
    assert await store.sweep(-60) == 1
    assert await store.get(result_key(JOB, 0)) is None
    with pytest.raises(ValueError, match="not a job store key"):
        await store.put("../escape", b"x")


async def test_a_job_on_the_s3_store(s3_endpoint: str, tmp_path: Path, redis_prefix: str) -> None:
    """Inputs and results of a whole job go through S3."""
    _bucket(s3_endpoint, "job-test")
    settings = parse_settings({
        "providers": {"fake": {"type": "local"}},
        "ledger": {"path": str(tmp_path / "usage.sqlite3")},
        "cache": {"enabled": False},
        "state": {"backend": "redis", "redis_url": TEST_REDIS_URL, "key_prefix": redis_prefix},
        "jobs": {"result_store": "s3", "s3_bucket": "job-test", "s3_endpoint_url": s3_endpoint,
                 "workers_in_process": 1, "heartbeat_s": 2, "sweep_s": 1},
    })
    image = base64.b64encode(product_jpeg(seed=2, size=40)).decode("ascii")
    app = create_app(settings, providers={"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as client:
        created = await client.post("/v1/jobs", json={"items": [{"image_base64": image}] * 2})
        job_id = created.json()["id"]
        deadline = time.monotonic() + 20
        while (status := (await client.get(f"/v1/jobs/{job_id}")).json())["status"] != "done":
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.1)
        result = await client.get(f"/v1/jobs/{job_id}/items/1")
    assert result.status_code == 200 and result.headers["content-type"] == "image/png"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="job-test")["Contents"]]
    assert sorted(keys) == [f"bg-gateway/jobs/{job_id}/out/0", f"bg-gateway/jobs/{job_id}/out/1"]
