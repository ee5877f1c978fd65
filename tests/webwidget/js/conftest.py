"""The widget's JavaScript modules, tested one by one in the chromium the browser tests drive.

No Node, no npm: a static server on 127.0.0.1 serves static/ and the harness/ beside this
file from one origin. A test takes a page there (js: a fresh one; shared_js: one per module,
for pure functions), imports the modules it tests with import() inside page.evaluate, and
checks what they return from Python.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.support.browser import launched_chromium, require_chromium
from tests.support.static_server import serving

ROOT = Path(__file__).resolve().parents[3]
HARNESS = Path(__file__).resolve().parent / "harness"


@pytest.fixture(scope="session")
def _point_settings_at_services() -> None:
    """Replaces the suite's fixture of the same name: modules running in a browser page need
    neither Redis nor the Connect emulator, so these tests do not start them."""


@pytest.fixture(scope="session")
def static_url() -> Iterator[str]:
    with serving({"/static/": ROOT / "static", "/harness/": HARNESS}) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium per test module; skips or, when CI is set, fails without one."""
    with launched_chromium(require_chromium()) as browser:
        yield browser


class Harness:
    """Opens pages of the harness, each in a browser context of its own (its own storage and
    globals), and checks when they close that no error went uncaught in them."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.browser = browser
        self.url = url
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def open(self, locale: str = "en-GB") -> Page:
        context = self.browser.new_context(locale=locale)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.goto(f"{self.url}/harness/index.html")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        assert not self.errors, f"uncaught errors in the page: {self.errors}"


@contextmanager
def harness_pages(browser: Browser, url: str) -> Iterator[Harness]:
    """Harness pages for the block, closed (and checked for uncaught errors) after it."""
    harness = Harness(browser, url)
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def pages(browser: Browser, static_url: str) -> Iterator[Harness]:
    """Fresh harness pages for this test, closed after it."""
    with harness_pages(browser, static_url) as harness:
        yield harness


@pytest.fixture
def js(pages: Harness) -> Page:
    """A fresh page of the harness for this test: what the test installs there dies with it.
    Modules import from /static/..., test helpers from /harness/...."""
    return pages.open()


@pytest.fixture(scope="module")
def shared_js(browser: Browser, static_url: str) -> Iterator[Page]:
    """One page of the harness for a whole test module, for tests of pure functions, which
    must leave the page as they found it: a fresh page costs about half a second."""
    with harness_pages(browser, static_url) as harness:
        yield harness.open()
