"""The console's Jobs page: a batch of images on the Redis queue, watched to the end, zipped."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sandbox.server import SandboxUrls
from tests.console.conftest import CLIENT_KEY, console_config, use_key
from tests.integration.kit import REDIS_URL, product_jpeg, running_gateway, settings_for

expect = pytest.importorskip("playwright.sync_api").expect  # the `test` extra installs it

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def test_a_batch_runs_to_the_end_and_downloads_as_a_zip(
    browser: Browser, sandbox: SandboxUrls, tmp_path: Path, redis_prefix: str
) -> None:
    config = console_config(sandbox)
    config["state"] = {"backend": "redis", "redis_url": REDIS_URL, "key_prefix": redis_prefix}
    config["jobs"] = {"workers_in_process": 1, "result_path": str(tmp_path / "results")}
    settings = settings_for(tmp_path, config.pop("providers"), **config)
    with running_gateway(settings) as base:
        context = browser.new_context(accept_downloads=True)
        try:
            page = context.new_page()
            errors: list[str] = []
            urls: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda request: urls.append(request.url))
            page.goto(f"{base}/")
            use_key(page)
            page.click("nav a[data-tab=jobs]")
            page.set_input_files("[data-testid=job-upload]", files=[
                {"name": f"p{seed}.jpg", "mimeType": "image/jpeg",
                 "buffer": product_jpeg(seed, size=64)} for seed in (1, 2, 3)
            ])
            page.click("[data-testid=job-run]")
            status = page.locator("[data-testid=job-status]")
            expect(status).to_have_attribute("data-status", "done", timeout=30_000)
            expect(status).to_contain_text("3 succeeded")
            results = page.locator("#page-jobs [data-testid=result]")
            expect(results).to_have_count(3)
            assert all(r.get_attribute("data-provider") for r in results.all())
            with page.expect_download() as saved:
                page.click("[data-testid=job-archive]")
            archive = Path(saved.value.path()).read_bytes()
            with zipfile.ZipFile(io.BytesIO(archive)) as opened:
                assert sorted(opened.namelist()) == ["00000.png", "00001.png", "00002.png"]
            assert not [url for url in urls if CLIENT_KEY in url]
            assert errors == []
        finally:
            context.close()
