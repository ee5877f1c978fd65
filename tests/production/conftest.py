"""One production stack per test run: nginx (deploy/nginx/chatbridge.conf) terminating TLS on
loopback in front of `python -m chatbridge.serve` with DEBUG off and docs/deployment.md's
environment, and a second such process that chat starts go to (docs/deployment.md, "Starts on
processes of their own"), run by a virtualenv that holds requirements.txt alone
(`make production-venv`).

The test tooling (pytest, Playwright, httpx's client side) runs here, in the development
virtualenv; the server and its management commands run in the production one. Without that
virtualenv or nginx the tests skip, unless CI is set: then they fail, as for chromium.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page

from chatbridge.dev.proxy import serving_proxy
from chatbridge.dev.services import EmulatorProcess, RedisServer, free_port
from chatbridge.dev.tls import Certificates, loopback_certificates
from tests.support.browser import launched_chromium, require_chromium
from tests.support.https_page import HttpsPage, serving_page
from tests.support.production import (
    ProductionServer,
    require_production_python,
    serving_another,
    serving_production,
)
from tests.support.proxy import require_nginx

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_PYTHON = os.environ.get("PRODUCTION_PYTHON") or str(
    ROOT / ".venv-production" / "bin" / "python"
)


@dataclass(frozen=True)
class Stack:
    """The production stack: `url` is nginx's https origin, `http_url` its plain listener."""

    url: str
    http_url: str
    server: ProductionServer
    # The process nginx sends chat starts to (CHATBRIDGE_HOLD_UPSTREAMS off).
    starts: ProductionServer
    certificates: Certificates
    host_site: HttpsPage

    def client(self, **options) -> httpx.Client:
        """An https client that trusts the stack's throw-away authority and nothing else."""
        return httpx.Client(
            base_url=self.url, verify=self.certificates.trusting(), timeout=15, **options
        )


# The first test pays for the stack: collectstatic and migrate in a fresh process, daphne and
# nginx starting, on a machine that may be busy running the rest of the suite.
TIMEOUT = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.production)
            item.add_marker(pytest.mark.timeout(TIMEOUT))


@pytest.fixture(scope="session")
def production_python() -> str:
    """The production virtualenv's interpreter; skips without one, or fails when CI is set."""
    return require_production_python(PRODUCTION_PYTHON)


@pytest.fixture(scope="session")
def tls_stack(
    production_python: str,
    server_redis: RedisServer,
    emulator_server: EmulatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    nginx = require_nginx()
    workdir = tmp_path_factory.mktemp("tls-stack")
    certificates = loopback_certificates(workdir / "certificates")
    https_port, http_port = free_port(), free_port()
    origin = f"https://127.0.0.1:{https_port}"
    # A site embedding the widget from ChatBridge's origin, as www.example.com embeds it from
    # chat.example.com.
    with (
        serving_page(certificates) as host_site,
        serving_production(
            workdir,
            server_redis.url,
            emulator_server.url,
            python=production_python,
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="1",
            CHATBRIDGE_PUBLIC_ORIGIN=origin,
            CHATBRIDGE_ALLOWED_ORIGINS=host_site.origin,
            CSRF_TRUSTED_ORIGINS=origin,
            CHATBRIDGE_REDIS_PREFIX="production-tls",
        ) as server,
    ):
        # The operator lets the widget run on the host site, and on the demo page of
        # ChatBridge's own origin.
        server.manage(
            "shell",
            "-c",
            "from webwidget.models import Widget; "
            "Widget.objects.filter(widget_id='default')"
            f".update(allowed_origins={origin + chr(10) + host_site.origin!r})",
        )
        with (
            serving_another(server, "starts", CHATBRIDGE_HOLD_UPSTREAMS="0") as starts,
            serving_proxy(
                nginx,
                workdir / "nginx",
                certificates,
                [urlparse(server.url).netloc],
                https_port,
                http_port,
                starts_upstreams=[urlparse(starts.url).netloc],
            ) as proxy,
        ):
            yield Stack(
                url=proxy.https_url,
                http_url=proxy.http_url,
                server=server,
                starts=starts,
                certificates=certificates,
                host_site=host_site,
            )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium per test module (see launched_chromium for why not per run)."""
    with launched_chromium(require_chromium()) as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; the throw-away certificate is one chromium has no reason to trust."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()
