"""A returning visitor's widget, as production serves it: the browser keeps what it loaded.

The server is daphne with DEBUG off and collected static files (the `production_server`
fixture); its access log says which requests reached it.
"""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.production import ProductionServer, Request
from tests.webwidget.pages import widget_frame


@pytest.fixture
def demo_url(production_server: ProductionServer) -> str:
    """The demo site of the production server, whose default widget it may embed."""
    production_server.manage(
        "shell",
        "-c",
        "from webwidget.models import Widget; "
        f"Widget.objects.filter(widget_id='default').update(allowed_origins={json.dumps(production_server.url)})",
    )
    return f"{production_server.url}/"


FRAME_FILES = Path(__file__).resolve().parents[2] / "static" / "webwidget" / "frame"
HASHED = re.compile(r"\.[0-9a-f]{12}\.(js|css)$")


def visit(page: Page, url: str) -> None:
    """Loads the host page and waits until the widget's launcher is there to click."""
    page.goto(url)
    expect(widget_frame(page).locator(".cb-launcher")).to_be_visible()


def widget_requests(requests: list[Request]) -> list[Request]:
    """What the widget asked of the server: anything but the host page itself."""
    return [r for r in requests if r.path.startswith(("/static/", "/widget/"))]


def test_the_frame_and_its_modules_load_by_hashed_names(
    page: Page, production_server: ProductionServer, demo_url: str
):
    before = len(production_server.requests())

    visit(page, demo_url)

    loaded = [
        r
        for r in production_server.requests()[before:]
        if r.path.startswith("/static/webwidget/frame/")
    ]
    # Every module of the frame and its stylesheet.
    assert len(loaded) == len(list(FRAME_FILES.glob("*.js"))) + 1, loaded
    assert all(HASHED.search(r.path) and r.status == 200 for r in loaded), loaded


def test_a_returning_visitors_widget_costs_at_most_two_requests(
    page: Page, production_server: ProductionServer, demo_url: str
):
    before = len(production_server.requests())
    visit(page, demo_url)
    seen = len(production_server.requests())

    visit(page.context.new_page(), demo_url)

    first_visit = widget_requests(production_server.requests()[before:seen])
    second_visit = widget_requests(production_server.requests()[seen:])
    assert Request("GET", "/static/webwidget/loader.js", 200) in first_visit
    assert len(first_visit) >= 10, first_visit
    assert len(second_visit) <= 2, second_visit
    assert Request("GET", "/widget/default/frame", 304) in second_visit
    assert all(
        r.path in {"/widget/default/frame", "/static/webwidget/loader.js"} for r in second_visit
    ), second_visit
