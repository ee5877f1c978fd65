"""app.js, unframed in a harness page: a widget outside its business hours opens on the
leave-a-message offer, and a chat start refused as closed (409 outside_business_hours) or at
capacity (503 at_capacity) turns into that offer, keeping what the customer typed. fetch
answers as ChatBridge would."""

from typing import Any

from playwright.sync_api import Page, expect

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

LOAD = """async ([config, status, problem]) => {
  const { FakeClock, FakeWebSocket } = await import("/harness/fakes.js");
  window.clock = new FakeClock().install();
  window.sockets = FakeWebSocket.install();
  window.requests = [];
  window.fetch = async (path, init) => {
    requests.push(`${init.method} ${path}`);
    return new Response(JSON.stringify(problem),
      { status, headers: { "Content-Type": "application/problem+json" } });
  };
  document.documentElement.dataset.config = JSON.stringify(
    { ...config, allowed_origins: [location.origin], socket_origins: [location.origin] });
  await import("/static/webwidget/frame/app.js");
}"""

SEND = """() => {
  document.querySelector("#cb-input").value = "Where is my parcel?";
  document.querySelector(".cb-composer").requestSubmit();
}"""


def load(js: Page, status: int = 500, problem: dict | None = None, **config: Any) -> None:
    js.evaluate(LOAD, [{**CONFIG, **config}, status, problem or {}])


def test_a_closed_widget_opens_on_the_offer_without_starting_anything(js):
    load(js, availability={"open": False, "next_open": "2030-01-07T08:00:00Z", "closes_at": None})
    expect(js.locator(".cb-leave")).to_be_visible()
    expect(js.locator(".cb-leave-title")).to_have_text("We're away right now")
    expect(js.locator(".cb-composer")).to_be_hidden()
    assert js.evaluate("requests") == []


def test_an_open_widget_opens_on_the_chat(js):
    load(js, availability={"open": True, "next_open": None, "closes_at": None})
    expect(js.locator(".cb-composer")).to_be_visible()
    expect(js.locator(".cb-leave")).to_be_hidden()


def test_a_start_refused_as_closed_offers_the_form_with_the_typed_message(js):
    load(js, 409, {"code": "outside_business_hours", "next_open": "2030-01-07T08:00:00Z"})
    js.evaluate(SEND)
    expect(js.locator(".cb-leave-title")).to_have_text("We're away right now")
    expect(js.locator(".cb-leave-when")).to_contain_text("We're back ")
    expect(js.locator("#cb-leave-message")).to_have_value("Where is my parcel?")
    expect(js.locator(".cb-composer")).to_be_hidden()
    assert js.evaluate("requests") == ["POST /api/v1/chats"]


def test_a_start_refused_at_capacity_offers_the_form(js):
    load(js, 503, {"code": "at_capacity"})
    js.evaluate(SEND)
    expect(js.locator(".cb-leave-title")).to_have_text("All our agents are busy")
    expect(js.get_by_role("button", name="Try the chat again")).to_be_visible()


def test_another_refusal_keeps_the_chat_view(js):
    load(js, 503, {"code": "upstream_unavailable"})
    js.evaluate(SEND)
    expect(js.locator(".cb-notice")).to_have_text("Something went wrong. Please try again.")
    expect(js.locator(".cb-leave")).to_be_hidden()
