"""The console's Try page and its serving, in a real browser against the sandboxed gateway."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.console.routes import CONTENT_SECURITY_POLICY
from sandbox.server import SandboxUrls
from tests.console.conftest import CLIENT_KEY, CLIENT_NAME, Watched, use_key
from tests.integration.kit import product_jpeg, running_gateway, settings_for, withoutbg

expect = pytest.importorskip("playwright.sync_api").expect  # the `test` extra installs it


def jpeg_file(seed: int = 3, size: int = 96) -> dict[str, object]:
    """A small synthetic product photo as a Playwright file payload."""
    return {"name": "product.jpg", "mimeType": "image/jpeg", "buffer": product_jpeg(seed, size)}


def test_pages_are_served_with_a_strict_policy(gateway: str) -> None:
    page = httpx.get(f"{gateway}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "<script>" not in page.text and " style=" not in page.text
    script = httpx.get(f"{gateway}/console/js/main.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert httpx.get(f"{gateway}/console/../gateway/app.py").status_code == 404
    assert httpx.get(f"{gateway}/console/nothing.js").status_code == 404


def test_the_console_can_be_switched_off(sandbox: SandboxUrls, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, {"withoutbg": withoutbg(sandbox)},
                            console={"enabled": False})
    with running_gateway(settings) as base:
        assert httpx.get(f"{base}/").status_code == 404
        assert httpx.get(f"{base}/console/js/main.js").status_code == 404
        assert httpx.get(f"{base}/health").status_code == 200


def test_upload_shows_the_answering_provider_and_keeps_the_key_out_of_urls(
    console: Watched, gateway: str
) -> None:
    page = console.page
    expect(page.locator("#try-providers input")).to_have_count(3)
    use_key(page)
    page.set_input_files("[data-testid=upload]", files=[jpeg_file()])  # type: ignore[list-item]
    page.check("#try-providers input[value=backgrounderase]")
    page.check("[name=despill]")
    with page.expect_response("**/v1/remove-background") as answer:
        page.click("[data-testid=run]")
    response = answer.value
    assert response.status == 200
    served_by = response.headers["x-provider"]
    assert served_by == "backgrounderase"
    result = page.locator("[data-testid=result]")
    expect(result).to_have_attribute("data-provider", served_by)
    facts = page.locator("#page-try .answer")
    expect(facts.locator("dd").first).to_have_text(served_by)
    expect(facts).to_contain_text(f"{served_by}: ok")  # X-Attempts in words
    emulated = [step for step in response.headers.get("x-emulated", "").split(",") if step]
    expect(facts.locator("dd").nth(2)).to_have_text(  # X-Emulated in words
        ", ".join(emulated) if emulated else "nothing (all native)")
    expect(facts).to_contain_text("provider ")  # the Server-Timing split
    width = page.evaluate("document.querySelector('[data-testid=result]').naturalWidth")
    assert width == int(response.headers["x-width"])
    # The result on each background, before/after, 100%: none of it may break the page.
    for bg in ("white", "black", "checker"):
        page.click(f"#page-try [data-bg={bg}]")
    page.click("[data-mode=slider]")
    page.click("[data-zoom='100']")
    expect(page.locator(".download")).to_have_attribute("download", f"cutout-{served_by}.png")

    sent = response.request
    assert sent.headers.get("x-api-key") == CLIENT_KEY
    assert page.evaluate("sessionStorage.length") == 1
    assert page.evaluate("localStorage.length") == 0
    assert console.urls, "the page made no request"
    assert not [url for url in console.urls if CLIENT_KEY in url]
    assert console.errors == []
    # The gateway counted the image against the client the key names.
    usage = httpx.get(f"{gateway}/v1/usage", headers={"X-API-Key": CLIENT_KEY}).json()["usage"]
    assert [(row["client"], row["provider"]) for row in usage] == [(CLIENT_NAME, served_by)]


def test_a_refused_request_is_explained_in_words(console: Watched) -> None:
    page = console.page
    expect(page.locator("#try-providers input")).to_have_count(3)
    page.set_input_files("[data-testid=upload]", files=[jpeg_file()])  # type: ignore[list-item]
    page.fill("#try-crop_margin", "lots")
    page.click("[data-testid=run]")
    problem = page.locator("#page-try .problem")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("crop_margin")
    expect(page.locator("[data-testid=result]")).to_have_count(0)
