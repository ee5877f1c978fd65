"""app.js, framed by a harness page as by a host page: what ChatBridge will refuse it, it tells
the page's loader (which writes it to the console), naming the origin and the setting.

The loader's side, a frame that never starts, runs against a live server in
tests/browser/test_widget_embedding.py.
"""

from typing import Any

from playwright.sync_api import Frame, Page

CONFIG: dict[str, Any] = {
    "widget_id": "w1",
    "locale": "en",
    "title": "Chat",
    "greeting": "",
    "primary_color": "#1f6feb",
    "text_color": "#ffffff",
    "prechat_fields": [],
    "attachment_types": [],
    "position": "right",
}

FRAMED = """async () => {
  window.heard = [];
  window.addEventListener("message", (e) => window.heard.push(e.data));
  const frame = document.createElement("iframe");
  frame.src = "/harness/index.html?frame";
  const loaded = new Promise((resolve) => frame.addEventListener("load", resolve));
  document.body.append(frame);
  await loaded;
}"""

LOAD = """async (config) => {
  const { FakeClock, FakeWebSocket } = await import("/harness/fakes.js");
  window.clock = new FakeClock().install();
  window.sockets = FakeWebSocket.install();
  // The start's answer when ChatBridge refuses the frame's origin.
  window.fetch = async () => new Response(
    JSON.stringify({ code: "origin_not_allowed", title: "Origin not allowed" }),
    { status: 403, headers: { "Content-Type": "application/problem+json" } });
  document.documentElement.dataset.config = JSON.stringify(
    { ...config, allowed_origins: [location.origin] });
  await import("/static/webwidget/frame/app.js");
}"""

HELLO = """() => document.querySelector("iframe").contentWindow.postMessage(
  { cb: 1, type: "hello", full: false }, location.origin)"""


def framed_widget(js: Page, **config: Any) -> Frame:
    js.evaluate(FRAMED)
    frame = next(f for f in js.frames if f.url.endswith("?frame"))
    frame.evaluate(LOAD, {**CONFIG, **config})
    js.evaluate(HELLO)
    js.wait_for_function("window.heard.some((m) => m.type === 'ready')")
    return frame


def refusals(js: Page) -> list[str]:
    js.wait_for_function("window.heard.some((m) => m.type === 'refused')", timeout=10_000)
    return js.evaluate("window.heard.filter((m) => m.type === 'refused').map((m) => m.detail)")


def test_a_frame_whose_origin_may_not_open_the_websocket_says_which_setting_to_change(js):
    framed_widget(js, socket_origins=["https://chat.example.com"])
    origin = js.evaluate("location.origin")
    (detail,) = refusals(js)
    assert f"the chat websocket from {origin} is refused" in detail
    assert f"set CHATBRIDGE_PUBLIC_ORIGIN to {origin}" in detail
    assert "CHATBRIDGE_ALLOWED_ORIGINS" in detail


def test_a_frame_whose_origin_may_open_the_websocket_says_nothing(js):
    frame = framed_widget(js, socket_origins=[js.evaluate("location.origin")])
    frame.evaluate("document.querySelector('.cb-launcher').click()")
    # A refusal would have come before this answer to the click.
    js.wait_for_function("window.heard.some((m) => m.type === 'state' && m.open)")
    assert js.evaluate("window.heard.filter((m) => m.type === 'refused')") == []


def test_a_refused_chat_start_is_told_with_the_admin_field_to_change(js):
    origin = js.evaluate("location.origin")
    frame = framed_widget(js, socket_origins=[origin])
    frame.evaluate(
        """() => {
          document.querySelector("#cb-input").value = "hello";
          document.querySelector(".cb-composer").requestSubmit();
        }"""
    )
    (detail,) = refusals(js)
    assert f"starting a chat from {origin} was refused (origin_not_allowed)" in detail
    assert '"Where it may run"' in detail and 'widget "w1"' in detail
    assert "CHATBRIDGE_PUBLIC_ORIGIN" in detail
