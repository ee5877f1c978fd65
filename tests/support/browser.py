"""Launching Debian's chromium through Playwright, shared by the browser and the widget's JS tests.

Playwright never downloads a browser here: tests drive the system's chromium. Where it is
missing, a developer's run skips the tests that need it, but a CI run fails, so that a broken
CI image cannot pass by running none of them (chatbridge.dev.programs).
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from chatbridge.dev.programs import MissingProgram, missing_program

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_chromium(path: str, env: Mapping[str, str]) -> MissingProgram | None:
    """None when chromium is there to run; otherwise whether its absence fails the run."""
    return missing_program(
        path,
        env,
        ci=f"CI is set, so the browser tests must run, but there is no chromium at {path}: "
        "install Debian's chromium (.ci/run does) or point CHROMIUM at it.",
        local=f"No chromium at {path} (apt-get install chromium, or set CHROMIUM)",
    )


def require_program(path: str, missing: MissingProgram | None) -> str:
    """`path`, or the current test fails (CI) or skips (a developer's machine) as `missing`
    says: the one rule for every program a suite needs from the system."""
    if missing is None:
        return path
    if missing.fail:
        pytest.fail(missing.reason, pytrace=False)
    pytest.skip(missing.reason)


def require_chromium(path: str = CHROMIUM, env: Mapping[str, str] = os.environ) -> str:
    """Chromium's path, or the current test fails (CI) or skips (a developer's machine)."""
    return require_program(path, missing_chromium(path, env))


@contextmanager
def launched_chromium(path: str) -> Iterator["Browser"]:
    """A headless chromium for the duration of the block.

    Playwright's sync API keeps an event loop running in this thread while it is open, which
    the async tests that follow must not find: callers open one per test module, not per run.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
