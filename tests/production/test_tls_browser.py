"""Chromium over https through nginx: the demo page's widget chatting with the echo agent, and
staff in the admin, its stylesheets, a transcript and its live view."""

import re
import textwrap

import pytest
from playwright.sync_api import ConsoleMessage, Page, Response, expect

from tests.support.production import run_manage
from tests.webwidget.pages import bubbles, open_widget, send, start_chat

ECHO = {"agent": "echo", "agent_join_delay": 0, "echo_delay": 0}
PASSWORD = "production-admin-pass-1234"


def failures(page: Page) -> list[str]:
    """Collects every answer of 400 or more the page receives, and every console error."""
    found: list[str] = []

    def answered(response: Response) -> None:
        if response.status >= 400:
            found.append(f"{response.status} {response.url}")

    def logged(message: ConsoleMessage) -> None:
        # The demo site has no icon: the browser's own request for one is none of the page's.
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            found.append(f"{message.text} ({message.location['url']})")

    page.on("response", answered)
    page.on("console", logged)
    return found


@pytest.fixture(scope="module")
def admin(tls_stack) -> str:
    """A superuser created as an operator creates one; its user name."""
    run_manage(
        {**tls_stack.server.env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        "createsuperuser", "--noinput", "--username", "operator", "--email", "op@example.com",
        python=tls_stack.server.python,
    )  # fmt: skip
    return "operator"


@pytest.fixture(scope="module")
def archived(tls_stack) -> dict[str, str]:
    """An ended and a live chat in the archive; their primary keys."""
    output = tls_stack.server.manage(
        "shell",
        "-c",
        textwrap.dedent(
            """
            from tests.chatbridge.archive.factories import make_chat
            ended = make_chat("tls-ended-1")
            live = make_chat("tls-live-1", customer="Grace Hopper", agent="Sam", ended=False)
            print(ended.pk, live.pk)
            """
        ),
    )
    ended, live = output.strip().splitlines()[-1].split()
    return {"ended": ended, "live": live}


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/admin/login/?next=/admin/archive/chat/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#result_list")).to_be_visible()


def test_the_widget_chats_with_the_echo_agent_over_https(page, tls_stack, emulator):
    emulator.configure(**ECHO)
    seen = failures(page)

    frame = open_widget(page, tls_stack.url + "/")
    start_chat(frame)
    send(frame, "Hello over TLS")

    expect(bubbles(frame, "agent")).to_have_text(["Echo: Hello over TLS"])
    assert seen == []


def test_a_host_site_on_another_https_origin_embeds_the_widget(page, tls_stack, emulator):
    emulator.configure(**ECHO)
    seen = failures(page)
    tls_stack.host_site.html = f"""<!doctype html><html><head><meta charset="utf-8">
<title>Shop</title><script src="{tls_stack.url}/static/webwidget/loader.js"
 data-chatbridge-widget="default" async></script></head><body><h1>A shop</h1></body></html>"""
    frame = open_widget(page, f"{tls_stack.host_site.origin}/")
    start_chat(frame)
    send(frame, "Hello from the shop")

    expect(bubbles(frame, "agent")).to_have_text(["Echo: Hello from the shop"])
    assert seen == []


def test_staff_log_in_and_the_admin_is_styled(page, tls_stack, admin):
    seen = failures(page)
    stylesheets: list[Response] = []
    page.on(
        "response",
        lambda r: stylesheets.append(r) if r.request.resource_type == "stylesheet" else None,
    )

    log_in(page, tls_stack.url, admin)

    assert any("/static/admin/css/base." in r.url and r.status == 200 for r in stylesheets)
    header = page.locator("#header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert header not in {"rgba(0, 0, 0, 0)", "transparent"}
    assert seen == []


def test_a_transcript_page_opens_with_its_stylesheet(page, tls_stack, admin, archived):
    seen = failures(page)
    log_in(page, tls_stack.url, admin)

    page.goto(f"{tls_stack.url}/admin/archive/chat/{archived['ended']}/change/")

    expect(page.locator("h1")).to_have_text("Chat with Ada Lovelace")
    radius = page.locator(".bubble").first.evaluate("e => getComputedStyle(e).borderRadius")
    assert radius != "0px"
    assert seen == []


def test_the_live_view_connects_through_the_proxy(page, tls_stack, admin, archived):
    seen = failures(page)
    log_in(page, tls_stack.url, admin)

    live_script = re.compile(r"/static/archive/transcript\.\w+\.js$")
    with page.expect_response(live_script) as script:
        page.goto(f"{tls_stack.url}/admin/archive/chat/{archived['live']}/change/")

    assert script.value.status == 200
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    assert seen == []
