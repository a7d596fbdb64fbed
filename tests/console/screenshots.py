"""Screenshots of the console's pages for the README: `python -m tests.console.screenshots`.

Starts the sandbox vendors and a gateway in front of them (as the browser tests do), drives
each page in headless chromium and writes `docs/console-{try,compare,providers,jobs}.png`
(the Jobs page needs the Redis server of the tests, 127.0.0.1:6379 database 15).
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import httpx
import redis
from playwright.sync_api import Page, sync_playwright

from sandbox.options import SandboxOptions
from sandbox.server import running_sandbox
from tests.console.conftest import CHROMIUM, CHROMIUM_ARGS, CLIENT_KEY, console_config, use_key
from tests.console.test_console_compare import photo_and_truth
from tests.integration.kit import (
    REDIS_URL,
    product_jpeg,
    remove,
    running_gateway,
    set_fault,
    settings_for,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _files(name: str, data: bytes, kind: str) -> list[dict[str, object]]:
    return [{"name": name, "mimeType": kind, "buffer": data}]


def shoot_try(page: Page, image: bytes) -> None:
    """The Try page after one removal, before/after slider half way."""
    page.set_input_files("[data-testid=upload]", files=_files("product.jpg", image, "image/jpeg"))  # type: ignore[arg-type]
    page.check("#try-providers input[value=withoutbg]")
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=result][data-provider]")
    page.click("[data-mode=slider]")
    page.wait_for_timeout(300)
    page.screenshot(path=str(DOCS / "console-try.png"), full_page=True)


def shoot_compare(page: Page, image: bytes, truth: bytes) -> None:
    """The Compare page: three providers, a ground truth, the metrics and the difference."""
    page.click("nav a[data-tab=compare]")
    page.set_input_files("[data-testid=compare-upload]", files=_files("p.jpg", image, "image/jpeg"))  # type: ignore[arg-type]
    page.set_input_files("[data-testid=compare-truth]", files=_files("t.png", truth, "image/png"))  # type: ignore[arg-type]
    for tick in page.locator("[data-testid=compare-provider]").all():
        tick.set_checked(True)
    page.click("[data-testid=compare-run]")
    page.wait_for_selector("[data-testid=compare-metrics]")
    page.wait_for_selector("#cmp-diff-note:has-text('%')")
    page.select_option("#cmp-diff-b", "ground truth")
    page.screenshot(path=str(DOCS / "console-compare.png"), full_page=True)


def shoot_jobs(page: Page) -> None:
    """The Jobs page after a batch of six images."""
    page.click("nav a[data-tab=jobs]")
    page.set_input_files("[data-testid=job-upload]", files=[  # type: ignore[arg-type]
        {"name": f"product-{seed}.jpg", "mimeType": "image/jpeg",
         "buffer": product_jpeg(seed, size=240)} for seed in range(1, 7)
    ])
    page.click("[data-testid=job-run]")
    page.wait_for_selector("[data-testid=job-status][data-status=done]", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('#page-jobs img').length === 6")
    page.screenshot(path=str(DOCS / "console-jobs.png"), full_page=True)


def main() -> None:
    """Write the three screenshots into docs/."""
    image, truth = photo_and_truth(seed=7, size=360)
    with tempfile.TemporaryDirectory() as tmp, running_sandbox(
        SandboxOptions(withoutbg_rate_limit="1000/minute")
    ) as urls:
        config = console_config(urls)
        prefix = f"bg-screenshots-{uuid.uuid4().hex}:"
        config["state"] = {"backend": "redis", "redis_url": REDIS_URL, "key_prefix": prefix}
        config["jobs"] = {"workers_in_process": 1, "result_path": str(Path(tmp) / "results")}
        settings = settings_for(Path(tmp), config.pop("providers"), **config)
        with running_gateway(settings) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/")
            use_key(page)
            shoot_try(page, image)
            shoot_compare(page, image, truth)
            set_fault(urls.backgrounderase, status=500, count=10)
            with httpx.Client(timeout=30) as http:
                for _ in range(4):
                    remove(http, base, image, experiment="ab", headers={"X-API-Key": CLIENT_KEY})
                for _ in range(2):
                    remove(http, base, image, provider="backgrounderase", fallback="false",
                           headers={"X-API-Key": CLIENT_KEY})
            page.click("nav a[data-tab=providers]")
            page.wait_for_selector("tr[data-provider=backgrounderase][data-circuit=open]")
            page.wait_for_selector("[data-testid=usage-table]")
            page.wait_for_selector("table[data-experiment=ab]")
            page.screenshot(path=str(DOCS / "console-providers.png"), full_page=True)
            shoot_jobs(page)
            browser.close()
        store = redis.Redis.from_url(REDIS_URL)
        keys = list(store.scan_iter(match=f"*{prefix}*"))
        if keys:
            store.delete(*keys)


if __name__ == "__main__":
    main()
