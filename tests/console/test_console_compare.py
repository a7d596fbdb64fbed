"""The console's Compare page: two providers through /v1/compare, side by side, with metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.console.conftest import CLIENT_KEY, Watched, use_key
from tests.imaging import encode
from tests.synthetic import on_plain

expect = pytest.importorskip("playwright.sync_api").expect  # the `test` extra installs it

PAIR = ("withoutbg", "backgrounderase")


def photo_and_truth(seed: int = 5, size: int = 96) -> tuple[bytes, bytes]:
    """A small synthetic product (JPEG) and its true matte (8-bit PNG)."""
    image, alpha = on_plain(seed, size=size)
    matte = Image.fromarray(np.round(alpha * 255).astype(np.uint8), "L")
    return encode(image), encode(matte, "PNG")


def test_two_providers_side_by_side_with_the_ground_truth_metrics(console: Watched) -> None:
    page = console.page
    page.click("nav a[data-tab=compare]")
    use_key(page)
    image, truth = photo_and_truth()
    page.set_input_files("[data-testid=compare-upload]", files=[
        {"name": "product.jpg", "mimeType": "image/jpeg", "buffer": image}])
    page.set_input_files("[data-testid=compare-truth]", files=[
        {"name": "truth.png", "mimeType": "image/png", "buffer": truth}])
    ticks = page.locator("[data-testid=compare-provider]")
    expect(ticks).to_have_count(3)
    for tick in ticks.all():
        tick.set_checked(tick.get_attribute("value") in PAIR)
    with page.expect_response("**/v1/compare") as answer:
        page.click("[data-testid=compare-run]")
    compared = answer.value
    assert compared.status == 200
    sent = compared.request
    assert sent.headers.get("x-api-key") == CLIENT_KEY
    report = json.loads(compared.body())["report"]
    assert [o["provider"] for o in report["providers"]] == list(PAIR)
    assert report["ground_truth"] is True

    results = page.locator("#page-compare [data-testid=result]")
    expect(results).to_have_count(2)
    assert sorted(r.get_attribute("data-provider") or "" for r in results.all()) == sorted(PAIR)
    metrics = page.locator("[data-testid=compare-metrics]")
    expect(metrics).to_be_visible()
    for name in PAIR:
        row = metrics.locator(f"tr[data-provider={name}]")
        expect(row).to_have_count(1)
        sad = row.locator("td").nth(1).inner_text()
        assert float(sad) >= 0, sad  # a number, not a dash
    expect(metrics.locator("th")).to_contain_text(["provider", "SAD", "MSE", "gradient",
                                                   "connectivity", "IoU"])
    # The mattes' difference is drawn at the input's size; the contact sheet can be saved.
    canvas = page.locator("[data-testid=compare-diff]")
    expect(canvas).to_be_visible()
    assert canvas.get_attribute("width") == str(report["width"])
    expect(page.locator("#cmp-diff-note")).to_contain_text("% of pixels differ")
    sheet = page.locator("[data-testid=compare-sheet]")
    expect(sheet).to_be_visible()
    with page.expect_download() as saved:
        sheet.click()
    assert saved.value.suggested_filename == "contact-sheet.png"
    # Synchronised zoom: one slider sizes every cut-out alike.
    page.locator("#cmp-zoom").fill("2")
    widths = [r.evaluate("img => img.getBoundingClientRect().width / img.naturalWidth")
              for r in results.all()]
    assert widths == [2, 2]

    # The cut-outs came with the report: no provider was called (and paid) a second time.
    assert not [url for url in console.urls if "/v1/remove-background" in url]
    assert not [url for url in console.urls if CLIENT_KEY in url]
    assert console.errors == []
