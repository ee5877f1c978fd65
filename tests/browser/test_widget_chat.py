"""The widget in real Chromium: a whole chat with the emulator's echo agent, resume after a
reload and in a second tab, and a dropped Connect websocket."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import FrameLocator, expect

from tests.webwidget.pages import active_contact, bubbles, open_widget, send, start_chat

ECHO = {"agent": "echo", "agent_join_delay": 0, "echo_delay": 0.2}

# The widget passes through states that a look may miss: a typing line shown for a moment, a
# banner up for a second. An observer in the page notes every state, so that none goes unseen.
RECORD_STATES = """root => {
  window.chatStates = [];
  const note = () => window.chatStates.push({
    typing: root.querySelector(".cb-typing").textContent,
    agentBubbles: root.querySelectorAll(".cb-log .cb-msg.cb-from-agent").length,
    banner: root.querySelector(".cb-banner").textContent,
  });
  new MutationObserver(note).observe(
    root, { childList: true, subtree: true, characterData: true, attributes: true }
  );
}"""


def record_states(frame: FrameLocator) -> Callable[[], list[dict[str, Any]]]:
    """Starts noting the widget's states; returns what reads the states noted so far."""
    root = frame.locator(".cb-root")
    root.evaluate(RECORD_STATES)
    return lambda: root.evaluate("() => window.chatStates")


@pytest.fixture
def echo(emulator, widget_setup):
    widget_setup()
    emulator.configure(**ECHO)
    return emulator


def test_a_full_chat_with_the_echo_agent(page, live_server, echo):
    frame = open_widget(page, live_server.url + "/")
    expect(frame.locator(".cb-greeting")).to_have_text("Hi! How can we help?")

    # The form checks its fields before anything is sent.
    frame.get_by_label("Email").fill("not-an-email")
    frame.get_by_role("button", name="Start chat").click()
    expect(frame.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(frame.locator("#cb-f-name-error")).to_have_text("Please fill in this field.")
    expect(frame.locator("#cb-f-email-error")).to_contain_text("email address")
    start_chat(frame, email="ada@example.com")
    contact = echo.contact(active_contact(echo))
    assert contact["attributes"] == {"name": "Ada Lovelace", "email": "ada@example.com"}

    expect(frame.locator(".cb-subtitle")).to_have_text("Alex (echo)")
    expect(frame.locator(".cb-system").first).to_have_text("Alex (echo) joined the chat")

    states = record_states(frame)
    send(frame, "Hello there")
    expect(bubbles(frame, "me")).to_have_text(["Hello there"])
    expect(bubbles(frame, "agent")).to_have_text(["Echo: Hello there"])
    expect(frame.locator(".cb-typing")).to_have_text("")
    # The agent's typing showed before its echo, and the echo replaced it.
    seen = [(s["typing"], s["agentBubbles"]) for s in states()]
    typing = seen.index(("Alex (echo) is typing…", 0))
    echoed = next(n for n, (_, agent_bubbles) in enumerate(seen) if agent_bubbles == 1)
    assert typing < echoed and seen[echoed] == ("", 1), seen
    # The agent read the message: two ticks, marked read.
    mine = frame.locator(".cb-log .cb-from-me").first
    expect(mine).to_have_attribute("data-status", "read")
    expect(mine.locator(".cb-ticks")).to_have_attribute("aria-label", "Read")
    expect(mine.locator("time")).to_have_text(re.compile(r"\d{1,2}:\d{2}"))

    # Typing the message sent a typing event to Connect before the message itself.
    items = echo.contact(contact["contact_id"])["items"]
    kinds = [(i.get("ParticipantRole"), i.get("ContentType", "").rsplit(".", 1)[-1]) for i in items]
    assert kinds.index(("CUSTOMER", "typing")) < kinds.index(("CUSTOMER", "text/plain"))

    frame.get_by_role("button", name="Chat options").click()
    frame.get_by_role("button", name="End chat").click()
    frame.locator(".cb-confirm").get_by_role("button", name="End chat").click()
    expect(frame.locator(".cb-ended")).to_contain_text("This chat has ended.")
    new_chat = frame.get_by_role("button", name="Start a new chat")
    expect(new_chat).to_be_focused()
    assert echo.contact(contact["contact_id"])["status"] == "ENDED"
    new_chat.click()
    expect(frame.get_by_label("Name")).to_be_visible()
    expect(bubbles(frame)).to_have_count(0)


def test_a_reload_and_a_second_tab_show_the_same_conversation(page, live_server, echo):
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    for text in ("one", "two"):
        send(frame, text)
        expect(bubbles(frame, "agent").last).to_have_text(f"Echo: {text}")
    expected_mine = ["one", "two"]
    expected_agent = ["Echo: one", "Echo: two"]

    page.reload()
    frame = open_widget(page, live_server.url + "/")
    expect(bubbles(frame, "me")).to_have_text(expected_mine)
    expect(bubbles(frame, "agent")).to_have_text(expected_agent)
    expect(frame.locator(".cb-system")).to_have_count(1)

    second = page.context.new_page()
    other = open_widget(second, live_server.url + "/")
    expect(bubbles(other, "me")).to_have_text(expected_mine)
    # A message from the second tab shows once in both.
    send(other, "three")
    for view in (frame, other):
        expect(bubbles(view, "me")).to_have_text([*expected_mine, "three"])
        expect(bubbles(view, "agent")).to_have_text([*expected_agent, "Echo: three"])
    expect(frame.locator(".cb-pending .cb-msg")).to_have_count(0)
    second.close()


def test_a_dropped_connect_websocket_shows_reconnecting_and_fills_the_gap(page, live_server, echo):
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    send(frame, "before")
    expect(bubbles(frame, "agent")).to_have_text(["Echo: before"])
    root = frame.locator(".cb-root")
    expect(root).not_to_have_attribute("data-reconnects", re.compile("."))

    states = record_states(frame)
    echo.websocket_faults(active_contact(echo), delay_ms=1500, count=2)
    echo.drop_websockets(active_contact(echo))
    expect(root).to_have_attribute("data-reconnects", "1")
    send(frame, "during one")
    send(frame, "during two")
    expect(frame.locator(".cb-banner")).to_be_hidden()
    banners = [s["banner"] for s in states()]
    assert "Reconnecting…" in banners and banners[-1] == "", banners
    expect(bubbles(frame, "me")).to_have_text(["before", "during one", "during two"])
    expect(bubbles(frame, "agent")).to_have_text(
        ["Echo: before", "Echo: during one", "Echo: during two"]
    )


def test_a_silently_lost_connection_offers_a_retry_that_sends_the_message_once(
    page, live_server, echo
):
    # Between the frame and ChatBridge: while "lost", nothing comes back to the browser and a new
    # connection opens but never reaches ChatBridge, as on a network gone dead.
    lost = {"on": False}

    def route(ws):
        if lost["on"]:
            return
        server = ws.connect_to_server()
        ws.on_message(server.send)
        server.on_message(lambda message: None if lost["on"] else ws.send(message))

    page.context.route_web_socket(re.compile(r"/ws/chat/$"), route)
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    send(frame, "before")
    expect(bubbles(frame, "agent")).to_have_text(["Echo: before"])

    lost["on"] = True
    send(frame, "into the void")
    retry = frame.get_by_role("button", name="Not sent. Tap to retry")
    expect(retry).to_be_visible(timeout=30000)
    expect(frame.locator(".cb-banner")).to_have_text("Reconnecting…", timeout=30000)

    lost["on"] = False
    retry.click()
    expect(bubbles(frame, "me")).to_have_text(["before", "into the void"])
    expect(bubbles(frame, "agent")).to_have_text(["Echo: before", "Echo: into the void"])
    expect(frame.locator(".cb-pending .cb-msg")).to_have_count(0)
    expect(frame.locator(".cb-banner")).to_be_hidden()
    items = echo.contact(active_contact(echo))["items"]
    assert [i["Content"] for i in items if i.get("Content") == "into the void"] == ["into the void"]
