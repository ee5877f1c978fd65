"""Browser tests: Debian's chromium driven by Playwright, against a live daphne.

The live server is a real daphne process sharing the test run's Redis and Connect emulator,
with a file SQLite database of its own (migrated here). Screenshots go to test-artifacts/.
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from chatbridge.dev.services import (
    EmulatorProcess,
    RedisServer,
    child_options,
    free_port,
    stop_process,
)
from tests.support.browser import launched_chromium, require_chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]

    def manage(self, *args: str) -> str:
        """Runs a management command against the live server's database."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Chromium's path; without one the browser tests skip, or fail when CI is set."""
    return require_chromium()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One chromium per test module (see launched_chromium for why not per run)."""
    with launched_chromium(chromium_path) as browser:
        yield browser


@pytest.fixture
def page(browser, request):
    """A fresh browser context and page; a screenshot is saved when the test ends."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


@pytest.fixture(scope="session")
def live_server(
    server_redis: RedisServer, emulator_server: EmulatorProcess, tmp_path_factory
) -> Iterator[LiveServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = tmp_path_factory.mktemp("live") / "db.sqlite3"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="chatbridge.settings",
        DEBUG="1",
        LOG_LEVEL="WARNING",
        DATABASE_URL=f"sqlite:///{database}",
        REDIS_URL=server_redis.url,
        CONNECT_ENDPOINT_URL=emulator_server.url,
        CONNECT_PARTICIPANT_ENDPOINT_URL=emulator_server.url,
        AWS_ACCESS_KEY_ID="emulator",
        AWS_SECRET_ACCESS_KEY="emulator",
        CHATBRIDGE_ALLOWED_ORIGINS=f"{url},http://localhost:{port}",
        CHATBRIDGE_REDIS_PREFIX="live",
        # Every browser test starts chats, and opens their connections, from 127.0.0.1.
        CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP="1000",
        CHATBRIDGE_CONNECTIONS_PER_ADDRESS="1000",
    )
    server = LiveServer(url=url, env=env)
    server.manage("migrate", "--noinput", "-v0")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "chatbridge.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        **child_options(),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError("the live daphne did not start")
        time.sleep(0.1)
    yield server
    stop_process(process)


@pytest.fixture
def widget_setup(live_server: LiveServer):
    """Sets the live server's default widget: allowed on the live server's origins, English,
    a name and an email field, plus any fields given; returns the origins it allows."""
    port = live_server.url.rsplit(":", 1)[1]
    origins = [live_server.url, f"http://localhost:{port}"]

    def configure(**fields) -> list[str]:
        values = {
            "allowed_origins": "\n".join(origins),
            "locale": "en",
            "title": "Chat with us",
            "greeting": "Hi! How can we help?",
            "prechat_fields": [
                {"name": "name", "label": "Name", "type": "text", "required": True},
                {"name": "email", "label": "Email", "type": "email", "required": False},
            ],
            **fields,
        }
        live_server.manage(
            "shell",
            "-c",
            "import json; from webwidget.models import Widget; "
            "w = Widget.objects.get(widget_id='default'); "
            f"[setattr(w, k, v) for k, v in json.loads({json.dumps(values)!r}).items()]; "
            "w.save()",
        )
        return origins

    return configure


@pytest.fixture(autouse=True)
def _live_server_helper():
    """Replaces pytest-django's helper of the same name, which opens a test database for any
    test using a fixture called live_server: this live_server is a daphne with its own."""
