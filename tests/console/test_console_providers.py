"""The console's Providers page: the live table shows a circuit tripped by sandbox faults."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from sandbox.server import SandboxUrls
from tests.console.conftest import CLIENT_KEY, Watched, console_config, use_key
from tests.integration.kit import product_jpeg, remove, running_gateway, set_fault, settings_for

expect = pytest.importorskip("playwright.sync_api").expect  # the `test` extra installs it


if TYPE_CHECKING:
    from playwright.sync_api import Browser


def test_the_table_shows_a_circuit_tripped_by_vendor_faults(
    console: Watched, gateway: str, sandbox: SandboxUrls
) -> None:
    page = console.page
    page.click("nav a[data-tab=providers]")
    use_key(page)
    table = page.locator("[data-testid=providers-table]")
    row = table.locator("tr[data-provider=withoutbg]")
    expect(row).to_have_attribute("data-circuit", "closed")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(row.locator("[data-testid=circuit]")).to_have_text("closed")

    with httpx.Client(timeout=30) as http:
        for _ in range(2):  # traffic of the experiment `ab` (withoutbg or backgrounderase)
            joined = remove(http, gateway, product_jpeg(size=64), experiment="ab",
                            headers={"X-API-Key": CLIENT_KEY})
            assert joined.status_code == 200

    # withoutbg answers 500 until the circuit opens (allowed_fails = 2 in this module's config).
    set_fault(sandbox.withoutbg, status=500, count=10)
    with httpx.Client(timeout=30) as http:
        for _ in range(2):
            answer = remove(http, gateway, product_jpeg(size=64), provider="withoutbg",
                            fallback="false", headers={"X-API-Key": CLIENT_KEY})
            assert answer.status_code >= 500

    # No reload: the page's own refresh picks the change up.
    expect(row).to_have_attribute("data-circuit", "open", timeout=15_000)
    expect(row.locator("[data-testid=circuit]")).to_have_text("open")
    expect(table.locator("tr[data-provider=backgrounderase]")).to_have_attribute(
        "data-circuit", "closed")
    # Two requests joined the experiment `ab`: its per-variant counters are on the page.
    variants = page.locator("table[data-experiment=ab]")
    expect(variants.locator("tbody tr")).to_have_count(2)
    expect(variants.locator("th").first).to_have_text("provider")
    page.click("#prov-now")
    page.wait_for_function("""() => {
        const table = document.querySelector('table[data-experiment=ab]');
        const heads = [...table.querySelectorAll('th')].map(th => th.textContent);
        const at = heads.indexOf('requests');
        const rows = [...table.querySelectorAll('tbody tr')];
        return rows.reduce((sum, tr) => sum + Number(tr.cells[at].textContent), 0) === 2;
    }""")
    assert not [url for url in console.urls if CLIENT_KEY in url]
    assert console.errors == []


def test_a_gateway_that_needs_a_key_asks_for_it(
    browser: Browser, sandbox: SandboxUrls, tmp_path: Path
) -> None:
    config = console_config(sandbox)
    config["auth"] = {"required": True}
    settings = settings_for(tmp_path, config.pop("providers"), **config)
    with running_gateway(settings) as base:
        context = browser.new_context()
        try:
            page = context.new_page()
            urls: list[str] = []
            page.on("request", lambda request: urls.append(request.url))
            page.goto(f"{base}/#providers")
            expect(page.locator("#toast")).to_contain_text("needs a client key")
            expect(page.locator("[data-testid=providers-table]")).to_have_count(0)
            use_key(page)
            expect(page.locator("[data-testid=providers-table] tbody tr")).to_have_count(3)
            assert not [url for url in urls if CLIENT_KEY in url]
        finally:
            context.close()
