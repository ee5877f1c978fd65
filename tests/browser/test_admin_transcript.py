"""The transcript viewer in real Chromium, served by the live daphne: the conversation page
(with a screenshot), under the project's Content-Security-Policy, and a live chat receiving a
new agent message through the staff websocket."""

import textwrap

import pytest
from playwright.sync_api import expect

PASSWORD = "viewer-pass-1234"


def seed(live_server, code: str) -> str:
    """Runs Python against the live server's database and settings; returns its output."""
    return live_server.manage("shell", "-c", textwrap.dedent(code)).strip()


@pytest.fixture
def archive(live_server):
    """A viewer and two chats in the live server's archive; their primary keys."""
    output = seed(
        live_server,
        f"""
        from django.contrib.auth import get_user_model
        from chatbridge.archive.models import Chat
        from tests.chatbridge.archive.factories import make_chat, viewer
        Chat.objects.filter(chat_id__in=["ended-1", "live-1"]).delete()
        if not get_user_model().objects.filter(username="viewer").exists():
            viewer("viewer", "{PASSWORD}")
        ended = make_chat("ended-1")
        live = make_chat("live-1", customer="Grace Hopper", agent="Sam", ended=False)
        print(ended.pk, live.pk)
        """,
    )
    ended, live = output.splitlines()[-1].split()
    return {"ended": ended, "live": live}


def log_in(page, live_server) -> list[str]:
    """Logs in through the admin's form; returns the list that collects CSP violations."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{live_server.url}/admin/login/?next=/admin/archive/chat/")
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#result_list")).to_be_visible()
    return violations


def test_the_transcript_page_reads_like_the_conversation(page, live_server, archive):
    violations = log_in(page, live_server)
    page.get_by_role("link", name="Ada Lovelace").click()

    expect(page.locator("h1")).to_have_text("Chat with Ada Lovelace")
    customer = page.locator(".entry-message.side-customer .bubble-text")
    expect(customer.first).to_have_text("Hello, my order has not arrived")
    expect(page.locator(".entry-message.side-agent .bubble-text")).to_have_text(
        ["Sorry to hear that! Let me check the tracking number."]
    )
    expect(page.locator(".system-line span")).to_have_text(
        ["Alice joined the chat", "The chat ended"]
    )
    expect(page.locator(".receipt-read")).to_have_text("Read")
    expect(page.locator(".attachment .file-name")).to_have_text("parcel-photo.png")
    # The stylesheet applies: customer bubbles on the left, the agent's on the right.
    customer_box = page.locator(".side-customer .bubble").first.bounding_box()
    agent_box = page.locator(".side-agent .bubble").first.bounding_box()
    assert customer_box["x"] < agent_box["x"]
    assert page.locator(".bubble").first.evaluate("e => getComputedStyle(e).borderRadius") != "0px"
    assert violations == []


def test_a_live_chat_shows_a_new_agent_message(page, live_server, archive):
    violations = log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/archive/chat/{archive['live']}/change/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator(".entry")).to_have_count(5)

    seed(
        live_server,
        """
        import asyncio
        from channels.layers import get_channel_layer
        from django.conf import settings
        from chatbridge.realtime.eventlog import EventLog
        from chatbridge.chats.events import ChatEvent
        from chatbridge.redis import get_redis
        from chatbridge.realtime.relay import Relay
        from tests.support.records import append

        async def publish():
            redis = get_redis()
            prefix = settings.CHATBRIDGE_REDIS_PREFIX
            relay = Relay(EventLog(redis, prefix=prefix, ttl=600), get_channel_layer(), redis,
                          prefix=prefix)
            # The log is new to Redis: seqs 1-6 stand for what the archive already shows.
            for n in range(1, 7):
                await append(relay.log, "live-1", ChatEvent(
                    id=f"live-1-old-{n}", type="event", content_type="x", content=None,
                    participant_role="SYSTEM", participant_id="", display_name="",
                    absolute_time="2026-03-02T09:30:00Z"))
            await relay.publish("live-1", ChatEvent(
                id="live-1-agent-new", type="message", content_type="text/plain",
                content="Your parcel is with the neighbour at number 12.",
                participant_role="AGENT", participant_id="agent-1", display_name="Sam",
                absolute_time="2026-03-02T09:40:00Z"))
            await relay.close()

        asyncio.run(publish())
        """,
    )

    new = page.locator('.entry[data-item="live-1-agent-new"]')
    expect(new).to_have_class("entry entry-message side-agent")
    expect(new.locator(".bubble-text")).to_have_text(
        "Your parcel is with the neighbour at number 12."
    )
    expect(new.locator(".who")).to_have_text("Sam")
    expect(page.locator(".entry")).to_have_count(6)
    assert violations == []
