"""The console's Providers page: the live table shows a circuit tripped by sandbox faults."""

from __future__ import annotations

import httpx
import pytest

from sandbox.server import SandboxUrls
from tests.console.conftest import CLIENT_KEY, Watched, use_key
from tests.integration.kit import product_jpeg, remove, set_fault

expect = pytest.importorskip("playwright.sync_api").expect  # the `test` extra installs it


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
    expect(page.locator("[data-testid=usage-table], .prov-usage .hint").first).to_be_visible()
    assert not [url for url in console.urls if CLIENT_KEY in url]
    assert console.errors == []
