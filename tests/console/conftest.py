"""A real headless Chromium (Playwright) against a real gateway with the sandbox vendors.

One browser, one sandbox and one gateway per module. Where Debian's `chromium` (or the
`playwright` package) is not installed, every test here skips with one message saying so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from sandbox.server import SandboxOptions, SandboxUrls, running_sandbox
from tests.integration.kit import (
    backgroundcut,
    backgrounderase,
    running_gateway,
    settings_for,
    withoutbg,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: The console tests' client key (configured by its SHA-256 only, like any client).
CLIENT_KEY = "console-test-key-5b1f0c"
CLIENT_NAME = "console-tester"

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright
except ImportError:  # pragma: no cover - the `test` extra installs it
    sync_playwright = None


def _browser_missing() -> str | None:
    if sync_playwright is None:
        return "the `playwright` package is not installed (pip install -e '.[test]')"
    if not os.path.exists(CHROMIUM):
        return "Debian's chromium is not installed (make browser; needs apt-get as root)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, driven by Playwright (its own browser download is unused)."""
    missing = _browser_missing()
    if missing:
        pytest.skip(f"browser tests skipped: {missing}")
    with sync_playwright() as playwright:  # type: ignore[misc]
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxUrls]:
    """The fake vendors on free loopback ports (one set per module)."""
    with running_sandbox(SandboxOptions(withoutbg_rate_limit="1000/minute")) as urls:
        yield urls


def console_config(urls: SandboxUrls) -> dict[str, Any]:
    """Three sandbox vendors; a circuit that opens after two failures and stays open."""
    providers = {
        "withoutbg": withoutbg(urls), "backgrounderase": backgrounderase(urls),
        "backgroundcut": backgroundcut(urls),
    }
    key_sha256 = hashlib.sha256(CLIENT_KEY.encode()).hexdigest()
    return {
        "providers": providers,
        "routing": {"allowed_fails": 2, "fail_window_s": 120.0, "cooldown_s": 600.0},
        "clients": {CLIENT_NAME: {"key_sha256": key_sha256}},
        "experiments": {"ab": {"variants": {"withoutbg": 50.0, "backgrounderase": 50.0}}},
    }


@pytest.fixture(scope="module")
def gateway(sandbox: SandboxUrls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real gateway (uvicorn on loopback) in front of the sandbox; its base URL."""
    config = console_config(sandbox)
    settings = settings_for(
        tmp_path_factory.mktemp("console"), config.pop("providers"), **config
    )
    with running_gateway(settings) as base:
        yield base


@dataclass
class Watched:
    """A page plus everything it did: console errors, uncaught exceptions, request URLs."""

    page: Page
    errors: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)


@pytest.fixture
def console(browser: Browser, gateway: str) -> Iterator[Watched]:
    """A fresh browser context on the console, recording errors and every request made."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watched = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    def on_request(request: Request) -> None:
        watched.urls.append(request.url)
        watched.requests.append(request)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watched.errors.append(f"uncaught: {exc}"))
    page.on("request", on_request)
    page.set_default_timeout(20_000)
    page.goto(f"{gateway}/")
    yield watched
    context.close()


def use_key(page: Page, key: str = CLIENT_KEY) -> None:
    """Type the client key into the console's key form, as a user would."""
    page.fill("#key-input", key)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#key-state:text('key set')")
