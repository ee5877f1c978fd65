"""app.js starting a chat under Amazon Connect's limits: while the start waits its turn the
customer reads their place in the queue (at the concurrent-chats cap the leave-a-message
offer takes over: test_app_offers.py). ChatBridge's side runs in
tests/chatbridge/api/test_connect_budget.py."""

from typing import Any

from playwright.sync_api import Page

from tests.webwidget.js.test_app_refusals import CONFIG, FRAMED, HELLO

LOAD = """async ({ config, start }) => {
  const { FakeClock, FakeWebSocket } = await import("/harness/fakes.js");
  window.clock = new FakeClock().install();
  window.sockets = FakeWebSocket.install();
  window.asked = [];
  const json = (body, status) => new Response(JSON.stringify(body),
    { status, headers: { "Content-Type": "application/json" } });
  window.fetch = async (path, options) => {
    window.asked.push([options.method, String(path), options.headers["Idempotency-Key"]]);
    if (options.method === "GET") return json({ position: 3 }, 200);
    // The start: refused, or waiting (an answer that never comes).
    return start ? json(start.body, start.status) : new Promise(() => {});
  };
  document.documentElement.dataset.config = JSON.stringify(
    { ...config, allowed_origins: [location.origin], socket_origins: [location.origin] });
  await import("/static/webwidget/frame/app.js");
}"""

SEND_FIRST_MESSAGE = """() => {
  document.querySelector("#cb-input").value = "hello";
  document.querySelector(".cb-composer").requestSubmit();
}"""


def started_widget(js: Page, start: dict[str, Any] | None):
    js.evaluate(FRAMED)
    frame = next(f for f in js.frames if f.url.endswith("?frame"))
    frame.evaluate(LOAD, {"config": CONFIG, "start": start})
    js.evaluate(HELLO)
    js.wait_for_function("window.heard.some((m) => m.type === 'ready')")
    frame.evaluate(SEND_FIRST_MESSAGE)
    frame.wait_for_function("window.asked.some(([method]) => method === 'POST')")
    return frame


def test_a_start_waiting_its_turn_shows_the_customers_place_in_the_queue(js):
    frame = started_widget(js, start=None)
    frame.evaluate("window.clock.tick(2000)")
    frame.wait_for_function("document.querySelector('.cb-notice').textContent.includes('number 3')")
    (post,), gets = frame.evaluate(
        """() => [window.asked.filter(([m]) => m === 'POST'),
                  window.asked.filter(([m]) => m === 'GET')]"""
    )
    assert gets and gets[0][1].endswith("/api/v1/widgets/w1/starts")
    assert gets[0][2] == post[2]  # asked by the start's own Idempotency-Key
