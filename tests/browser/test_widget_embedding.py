"""The widget on host pages: strict CSPs, hostile stylesheets, hostile agent messages, the
admin under ChatBridge's own CSP, keyboard-only use and a right-to-left layout."""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.webwidget.pages import (
    FRAME,
    active_contact,
    bubbles,
    open_widget,
    send,
    start_chat,
    widget_frame,
)

# Collects CSP violations and runs in every frame, the widget's included; `pwned` is what a
# successful injection would call.
HOOKS = """
window.__violations = [];
window.__pwned = [];
window.pwned = (what) => window.__pwned.push(String(what));
window.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
}, true);
"""

HOSTILE_CSS = """
* { font-size: 31px !important; color: red !important; background: lime !important;
    letter-spacing: 9px !important; line-height: 4 !important; box-sizing: content-box !important; }
iframe { display: none !important; position: static !important; width: 1px !important;
         height: 1px !important; opacity: 0 !important; transform: scale(0.1) !important;
         border: 30px solid red !important; z-index: -1 !important; pointer-events: none !important; }
body { transform: translateX(-200px); filter: none; margin: 0 !important; }
div, button, section { display: none !important; }
"""


class HostSite:
    """A host site on an origin of its own: one page carrying the widget's tag, under the
    strict policy of the widget's documentation, and a stylesheet."""

    def __init__(self, chatbridge: str) -> None:
        self.chatbridge = chatbridge
        self.css = "body { font-family: serif; }"
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path == "/shop.css":
                    body, kind, headers = site.css, "text/css", {}
                else:
                    body, kind, headers = (
                        site.page(),
                        "text/html",
                        {"Content-Security-Policy": site.policy()},
                    )
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def policy(self) -> str:
        return (
            f"default-src 'none'; script-src 'self' {self.chatbridge}; "
            f"style-src 'self' {self.chatbridge}; frame-src {self.chatbridge}"
        )

    def page(self) -> str:
        return f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<link rel="stylesheet" href="/shop.css">
<script src="{self.chatbridge}/static/webwidget/loader.js" data-chatbridge-widget="default"
 async></script></head><body><h1>A shop on another origin</h1><p>Products.</p>
<div>Hostile host</div><button type="button">Buy</button></body></html>"""

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host_site(live_server):
    site = HostSite(live_server.url)
    yield site
    site.stop()


@pytest.fixture
def watched(page):
    page.add_init_script(HOOKS)
    problems = []
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not m.text.startswith("Failed to load resource")
            and problems.append(m.text)
        ),
    )
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "dialog", lambda dialog: (problems.append(f"dialog {dialog.message}"), dialog.dismiss())
    )
    return problems


def chat_frame(page):
    return page.frame(url=re.compile(r"/widget/default/frame"))


def assert_clean(page, problems):
    assert problems == []
    for frame in (page.main_frame, chat_frame(page)):
        assert frame.evaluate("window.__violations") == []
        assert frame.evaluate("window.__pwned") == []


def test_a_host_page_with_a_strict_csp_and_a_hostile_stylesheet(
    page, live_server, emulator, widget_setup, watched, host_site
):
    widget_setup(allowed_origins=host_site.origin)
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0.1)
    host_site.css = HOSTILE_CSS
    frame = open_widget(page, host_site.origin + "/shop")
    iframe = page.locator(FRAME)
    box = iframe.bounding_box()
    assert box is not None
    assert (box["x"] + box["width"], box["y"] + box["height"]) == (1280, 800)
    assert box["width"] == 424
    expect(frame.locator(".cb-title")).to_have_css("font-size", "17px")
    start_chat(frame)
    send(frame, "Styles cannot reach me")
    expect(bubbles(frame, "agent")).to_have_text(["Echo: Styles cannot reach me"])
    frame.get_by_role("button", name="Close chat").first.click()
    expect(frame.locator(".cb-panel")).to_be_hidden()
    closed = iframe.bounding_box()
    assert closed is not None and (closed["width"], closed["height"]) == (100, 100)
    assert_clean(page, watched)


def test_the_demo_site_under_chatbridges_own_csp(
    page, live_server, emulator, widget_setup, watched
):
    widget_setup()
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0.1)
    response = page.goto(live_server.url + "/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    page.get_by_role("button", name="Questions? Chat with us").click()
    frame = widget_frame(page)
    expect(frame.locator(".cb-panel")).to_be_visible()
    start_chat(frame)
    send(frame, "Under a strict policy")
    expect(bubbles(frame, "agent")).to_have_text(["Echo: Under a strict policy"])
    assert_clean(page, watched)


def test_a_widget_frame_is_refused_to_sites_not_allowed(page, live_server, widget_setup):
    widget_setup(allowed_origins="https://shop.example.com")
    response = page.request.get(live_server.url + "/widget/default/frame")
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors https://shop.example.com;" in policy + ";"
    assert "x-frame-options" not in response.headers
    # The browser says when it blocks the frame: only then is its absence a finding.
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as refusal:
        page.goto(live_server.url + "/")
    assert "blocked" in refusal.value.text
    expect(page.locator(FRAME)).to_be_attached()
    expect(widget_frame(page).locator(".cb-launcher")).not_to_be_attached()


def test_a_host_page_not_allowed_is_told_in_its_console_which_setting_to_change(
    page, live_server, widget_setup, host_site
):
    widget_setup(allowed_origins="https://shop.example.com")
    # The browser's own report names only the directive; the loader's names what to change.
    with page.expect_console_message(
        lambda m: m.type == "warning" and m.text.startswith("ChatBridge:")
    ) as told:
        page.goto(host_site.origin + "/shop")
    text = told.value.text
    assert f'the widget "default" from {live_server.url} did not start' in text
    assert f"most likely {host_site.origin} may not embed it" in text
    assert '"Where it may run"' in text and "CHATBRIDGE_ALLOWED_ORIGINS" in text


def test_a_widget_without_origins_of_its_own_runs_where_the_settings_say(
    page, live_server, widget_setup, watched
):
    widget_setup(allowed_origins="")
    page.goto(live_server.url + "/")
    expect(widget_frame(page).locator(".cb-launcher")).to_be_visible()
    assert watched == []


def test_the_admin_runs_under_the_strict_csp(page, live_server, watched):
    live_server.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.filter(username='csp').exists() or "
        "User.objects.create_superuser('csp', 'csp@example.com', 'a long test password')",
    )
    page.goto(live_server.url + "/admin/login/")
    page.get_by_label("Username").fill("csp")
    page.get_by_label("Password").fill("a long test password")
    page.get_by_role("button", name="Log in").click()
    expect(
        page.get_by_role("link", name="Log out").or_(page.get_by_role("button", name="Log out"))
    ).to_be_visible()
    page.goto(live_server.url + "/admin/webwidget/widget/add/")
    page.get_by_label("Name:").press_sequentially("Shop Two")
    expect(page.get_by_label("Widget id:")).to_have_value("shop-two")
    assert watched == []
    assert page.evaluate("window.__violations") == []


def test_hostile_agent_messages_render_as_inert_text(
    page, live_server, emulator, widget_setup, watched
):
    widget_setup()
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    contact = active_contact(emulator)
    emulator.agent_join(contact, "Mallory")
    attacks = [
        ("text/plain", "<script>pwned('script')</script>"),
        ("text/markdown", "<img src=x onerror=\"pwned('img')\"> **bold**"),
        ("text/markdown", "[click me](javascript:pwned('js')) and [data](data:text/html,x)"),
        (
            "text/markdown",
            "[mixed](  JaVaScRiPt:pwned('mixed')) <a href=\"javascript:pwned('a')\">a</a>",
        ),
        ("text/markdown", "![pic](x\" onerror=\"pwned('md-img')) `<b onmouseover=pwned()>`"),
        ("text/markdown", "[safe](https://example.com/?q=a&b=%3Cx%3E) *em* ~~gone~~\n- one\n- two"),
    ]
    for content_type, content in attacks:
        emulator.agent_message(contact, content, content_type)
    agent = bubbles(frame, "agent")
    expect(agent).to_have_count(len(attacks))
    expect(agent.nth(0)).to_have_text("<script>pwned('script')</script>")
    expect(agent.nth(1)).to_contain_text("<img src=x onerror=\"pwned('img')\">")
    expect(agent.nth(1).locator("strong")).to_have_text("bold")
    expect(agent.nth(2)).to_have_text("click me and data")
    expect(agent.nth(4).locator("code")).to_have_text("<b onmouseover=pwned()>")
    safe = agent.nth(5).get_by_role("link", name="safe")
    expect(safe).to_have_attribute("href", "https://example.com/?q=a&b=%3Cx%3E")
    expect(safe).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(safe).to_have_attribute("target", "_blank")
    expect(agent.nth(5).locator("li")).to_have_text(["one", "two"])
    log = frame.locator(".cb-log")
    expect(log.locator("script, img, iframe, [onerror], [onmouseover]")).to_have_count(0)
    hrefs = log.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs == ["https://example.com/?q=a&b=%3Cx%3E"]
    agent.nth(2).click()
    agent.nth(3).click()
    agent.nth(4).hover()
    assert_clean(page, watched)


def test_keyboard_only(page, live_server, emulator, widget_setup):
    widget_setup()
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0.1)
    page.goto(live_server.url + "/")
    frame = widget_frame(page)
    launcher = frame.locator(".cb-launcher")
    expect(launcher).to_be_visible()
    for _ in range(30):
        page.keyboard.press("Tab")
        if launcher.evaluate("el => document.activeElement === el && document.hasFocus()"):
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    expect(launcher).to_have_accessible_name("Open chat")
    page.keyboard.press("Enter")
    name = frame.get_by_label("Name")
    expect(name).to_be_focused()
    page.keyboard.type("Grace Hopper")
    page.keyboard.press("Tab")
    expect(frame.get_by_label("Email")).to_be_focused()
    page.keyboard.type("grace@example.com")
    page.keyboard.press("Tab")
    expect(frame.get_by_role("button", name="Start chat")).to_be_focused()
    page.keyboard.press("Enter")
    message = frame.get_by_label("Message", exact=True)
    expect(message).to_be_focused()
    page.keyboard.type("Typed with keys only")
    page.keyboard.press("Enter")
    expect(bubbles(frame, "agent")).to_have_text(["Echo: Typed with keys only"])
    page.keyboard.press("Escape")
    expect(frame.locator(".cb-panel")).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_arabic_is_laid_out_right_to_left(page, live_server, emulator, widget_setup):
    widget_setup(
        locale="ar",
        title="تحدث معنا",
        greeting="مرحبًا! كيف يمكننا مساعدتك؟",
        prechat_fields=[{"name": "name", "label": "الاسم", "type": "text", "required": True}],
    )
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0.1)
    page.goto(live_server.url + "/")
    frame = widget_frame(page)
    frame.get_by_role("button", name="افتح المحادثة").click()
    expect(frame.locator("html")).to_have_attribute("dir", "rtl")
    expect(frame.locator("html")).to_have_attribute("lang", "ar")
    frame.get_by_label("الاسم").fill("ليلى")
    frame.get_by_role("button", name="ابدأ المحادثة").click()
    box = frame.get_by_label("رسالة", exact=True)
    box.fill("مرحبا")
    box.press("Enter")
    expect(bubbles(frame, "agent")).to_have_text(["Echo: مرحبا"])
    panel = frame.locator(".cb-panel").bounding_box()
    mine = bubbles(frame, "me").first.bounding_box()
    theirs = bubbles(frame, "agent").first.bounding_box()
    assert panel and mine and theirs
    middle = panel["x"] + panel["width"] / 2
    # Mirrored: the customer's messages on the left, the agent's on the right.
    assert mine["x"] + mine["width"] < middle < theirs["x"] + theirs["width"]
    assert theirs["x"] > middle - 40
    header = frame.locator(".cb-title").bounding_box()
    close = frame.locator(".cb-close").bounding_box()
    assert header and close and close["x"] < header["x"]


def test_an_arabic_browser_reads_a_default_widget_in_arabic(
    browser, live_server, emulator, widget_setup
):
    # The widget as created: its English default title, greeting and label; the browser's
    # language chooses.
    widget_setup(locale="auto")
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0.1)
    context = browser.new_context(locale="ar-EG")
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        frame = widget_frame(page)
        frame.get_by_role("button", name="افتح المحادثة").click()
        expect(frame.locator(".cb-title")).to_have_text("تحدث معنا")
        expect(frame.locator(".cb-greeting .cb-bubble")).to_have_text("مرحبًا! كيف يمكننا مساعدتك؟")
        frame.get_by_label("الاسم").fill("Leila")
        frame.get_by_role("button", name="ابدأ المحادثة").click()
        box = frame.get_by_label("رسالة", exact=True)
        box.fill("Hello in English")
        box.press("Enter")
        expect(bubbles(frame, "agent")).to_have_text(["Echo: Hello in English"])
        # Each text sets its own direction: English reads left to right in the Arabic frame.
        for element in (box, bubbles(frame, "me").first, bubbles(frame, "agent").first):
            expect(element).to_have_attribute("dir", "auto")
        assert bubbles(frame, "agent").first.evaluate("b => getComputedStyle(b).direction") == "ltr"
    finally:
        context.close()


def test_screen_readers_hear_each_name_once_the_ticks_and_the_unread_count(
    page, live_server, emulator, widget_setup
):
    widget_setup()
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    contact = active_contact(emulator)
    emulator.agent_join(contact, "Sam")
    emulator.agent_message(contact, "Hello from Sam")
    expect(bubbles(frame, "agent")).to_have_text(["Hello from Sam"])
    agent = frame.locator(".cb-log .cb-from-agent")
    assert agent.aria_snapshot().count("Sam") == 2, agent.aria_snapshot()  # name + "from Sam"
    send(frame, "Hi Sam")
    mine = frame.locator(".cb-log .cb-from-me")
    expect(mine.get_by_role("img", name="Sent")).to_be_visible()

    frame.locator(".cb-close").click()
    emulator.agent_message(contact, "Still there?")
    launcher = frame.locator(".cb-launcher")
    expect(launcher).to_have_accessible_name("Open chat, 1 unread")
    expect(launcher).not_to_have_attribute("aria-description", re.compile("."))
