"""Swagger UI and ReDoc render the document in a real browser, every other host blocked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gateway.app import create_app
from tests.api.test_openapi import settings_for
from tests.servers import serve_in_thread

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

try:
    from playwright.sync_api import Browser, Page, Route, sync_playwright
except ImportError:  # pragma: no cover - the `test` extra installs it
    sync_playwright = None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless (skips where it or playwright is missing, as tests/console)."""
    if sync_playwright is None or not os.path.exists(CHROMIUM):
        pytest.skip("browser tests skipped: playwright or Debian's chromium is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def offline_page(browser: Browser, tmp_path: Path) -> Iterator[tuple[Page, str, list[str]]]:
    """A page on a real gateway; requests to any other host are aborted and recorded."""
    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with serve_in_thread(create_app(settings_for(tmp_path))) as base:
        page = browser.new_page()
        page.route("**/*", only_loopback)
        try:
            yield page, base, blocked
        finally:
            page.close()


def test_swagger_ui_renders_offline(offline_page: tuple[Page, str, list[str]]) -> None:
    page, base, blocked = offline_page
    page.goto(f"{base}/schema/swagger")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    assert "bg-gateway" in page.inner_text(".info .title")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/v1/remove-background" in path for path in paths)
    assert blocked == []


def test_redoc_renders_offline(offline_page: tuple[Page, str, list[str]]) -> None:
    page, base, blocked = offline_page
    page.goto(f"{base}/schema/redoc")
    page.wait_for_function("document.body.innerText.includes('/v1/remove-background')",
                           timeout=20_000)
    assert "bg-gateway" in page.inner_text("h1")
    assert blocked == []
