"""Continuity in real Chromium: the same browser's next chat continues the last one, showing
the earlier conversation first and marked, and the menu reads previous conversations."""

import json
import time

import httpx
from playwright.sync_api import Page, expect

from tests.webwidget.pages import (
    active_contact,
    bubbles,
    open_widget,
    send,
    start_chat,
    widget_frame,
)

# Failure guard only: the archive has the ended chat within milliseconds.
GUARD = 30.0


def customer_token(page: Page) -> str:
    frame = next(f for f in page.frames if "/frame" in f.url)
    return json.loads(frame.evaluate("localStorage.getItem('chatbridge:default:customer')"))


def until_archived_as_ended(url: str, token: str) -> None:
    """Returns once the archive lists the customer's ended chat (what a next start reads)."""
    deadline = time.monotonic() + GUARD
    while True:
        answer = httpx.get(
            f"{url}/api/v1/widgets/default/conversations",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        if answer.status_code == 200 and answer.json()["conversations"]:
            return
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)


def test_a_returning_customer_continues_and_reads_previous_conversations(
    page, live_server, emulator, widget_setup
):
    widget_setup()
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0.1)
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame, name="Ada")
    send(frame, "My parcel is late")
    expect(bubbles(frame, "agent")).to_have_text(["Echo: My parcel is late"])
    frame.get_by_role("button", name="Chat options").click()
    frame.get_by_role("button", name="End chat").click()
    frame.locator(".cb-confirm").get_by_role("button", name="End chat").click()
    expect(frame.locator(".cb-ended")).to_contain_text("This chat has ended.")
    until_archived_as_ended(live_server.url, customer_token(page))

    frame.get_by_role("button", name="Start a new chat").click()
    start_chat(frame, name="Ada")
    send(frame, "Any news?")

    expect(frame.locator(".cb-earlier-divider")).to_have_text("Earlier conversation")
    expect(frame.locator(".cb-log .cb-msg.cb-earlier .cb-bubble")).to_have_text(
        ["My parcel is late", "Echo: My parcel is late"]
    )
    expect(bubbles(frame, "agent").last).to_have_text("Echo: Any news?")
    expect(bubbles(frame)).to_have_text(
        ["My parcel is late", "Echo: My parcel is late", "Any news?", "Echo: Any news?"]
    )
    # The earlier chat's end is history: this one goes on.
    expect(frame.locator(".cb-composer")).to_be_visible()
    expect(frame.locator(".cb-ended")).to_be_hidden()

    frame.get_by_role("button", name="Chat options").click()
    frame.get_by_role("button", name="Previous conversations").click()
    chats = frame.locator(".cb-previous-chat")
    expect(chats).to_have_count(1)
    chats.first.click()
    expect(frame.locator(".cb-previous-text")).to_have_text(
        ["My parcel is late", "Echo: My parcel is late"]
    )
    frame.get_by_role("button", name="Back").click()
    expect(chats).to_have_count(1)

    # Back later with the panel closed: only the new conversation's messages count as unread.
    frame.locator(".cb-launcher").click()
    expect(frame.locator(".cb-launcher")).to_have_attribute("aria-expanded", "false")
    page.reload()
    frame = widget_frame(page)
    expect(bubbles(frame)).to_have_count(4)
    emulator.agent_message(active_contact(emulator), "Are you still there?")
    expect(bubbles(frame, "agent").last).to_have_text("Are you still there?")
    expect(frame.locator(".cb-badge")).to_have_text("1")
