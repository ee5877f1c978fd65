"""Continuity: a returning customer's chat continues their last one as an Amazon Connect
persistent chat, when ChatBridge can tell it is the same customer."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatbridge.api.customers import issue_customer_token, read_customer_token
from chatbridge.archive.models import Chat
from tests.support.continuity import ended_chat, identity_token, say
from tests.support.rest import (
    assert_problem,
    bearer,
    contact_id,
    events_after,
    start_chat,
    wait_for_agent_message,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _messages(page: dict) -> list[tuple[str, bool]]:
    return [
        (e["event"]["content"], e["event"]["earlier"])
        for e in page["events"]
        if e["event"]["type"] == "message"
    ]


async def test_the_customer_token_continues_the_last_chat_in_connect(
    api, widget, runtime, emulator
):
    first = await ended_chat(api, runtime, "my order is late")

    chat = await start_chat(api, customer_token=first["customer_token"])

    assert chat["continued_from"] == first["chat_id"]
    contact = emulator.contact(await contact_id(runtime, chat))
    assert contact["related_contact_id"] == await contact_id(runtime, first)


async def test_the_earlier_conversation_is_logged_first_once_and_marked(
    api, widget, runtime, emulator
):
    first = await ended_chat(api, runtime, "my order is late")

    chat = await start_chat(api, customer_token=first["customer_token"])
    # Logged before the start answered: the customer's next message comes after it.
    await say(api, chat, "still waiting")
    emulator.agent_join(await contact_id(runtime, chat))
    emulator.agent_message(await contact_id(runtime, chat), "on it")

    page = {"events": await wait_for_agent_message(api, chat, "on it")}
    assert _messages(page) == [
        ("my order is late", True),
        ("still waiting", False),
        ("on it", False),
    ]
    ids = [e["event"]["id"] for e in page["events"]]
    assert len(ids) == len(set(ids))
    earlier = [e["seq"] for e in page["events"] if e["event"]["earlier"]]
    assert earlier == list(range(1, len(earlier) + 1))


async def test_a_start_without_the_customer_token_starts_afresh(api, widget, runtime, emulator):
    await ended_chat(api, runtime, "my order is late")

    chat = await start_chat(api)

    assert chat["continued_from"] is None
    contact = emulator.contact(await contact_id(runtime, chat))
    assert contact["related_contact_id"] is None


async def test_the_customer_may_start_afresh(api, widget, runtime, emulator):
    first = await ended_chat(api, runtime, "my order is late")

    chat = await start_chat(api, customer_token=first["customer_token"], continue_previous=False)

    assert chat["continued_from"] is None


async def test_a_customer_token_of_another_widget_proves_nothing(api, widget, runtime, emulator):
    first = await ended_chat(api, runtime, "my order is late")
    key = read_customer_token(first["customer_token"], "shop")
    forged = issue_customer_token("blog", key)

    chat = await start_chat(api, customer_token=forged)

    assert chat["continued_from"] is None
    assert chat["customer_token"] != first["customer_token"]


async def test_a_chat_that_ended_before_the_window_is_not_continued(
    api, widget, runtime, emulator, settings
):
    settings.CHATBRIDGE_CONTINUITY_WINDOW = 24 * 3600
    first = await ended_chat(api, runtime, "my order is late")
    await Chat.objects.filter(chat_id=first["chat_id"]).aupdate(
        ended_at=timezone.now() - timedelta(days=2)
    )

    chat = await start_chat(api, customer_token=first["customer_token"])

    assert chat["continued_from"] is None


async def test_an_identified_customer_continues_on_any_device(api, widget, runtime, emulator):
    secret = widget.identity_secret
    first = await ended_chat(api, runtime, "from my laptop", identity=identity_token(secret))
    assert first["customer_token"] is None

    chat = await start_chat(api, identity=identity_token(secret))

    assert chat["continued_from"] == first["chat_id"]


async def test_another_identified_customer_does_not_continue_it(api, widget, runtime, emulator):
    secret = widget.identity_secret
    await ended_chat(api, runtime, "from my laptop", identity=identity_token(secret))

    chat = await start_chat(api, identity=identity_token(secret, sub="user-43"))

    assert chat["continued_from"] is None


async def test_each_chat_continues_the_latest_of_the_chain(api, widget, runtime, emulator):
    first = await ended_chat(api, runtime, "one")
    second = await ended_chat(api, runtime, "two", customer_token=first["customer_token"])

    chat = await start_chat(api, customer_token=second["customer_token"])

    assert chat["continued_from"] == second["chat_id"]
    page = await events_after(api, chat)
    assert _messages(page) == [("one", True), ("two", True)]


async def test_a_chat_connect_will_not_continue_starts_afresh(api, widget, runtime, emulator):
    first = await ended_chat(api, runtime, "my order is late")
    # Connect no longer knows the contact (another instance's, or gone).
    await Chat.objects.filter(chat_id=first["chat_id"]).aupdate(contact_id="gone")

    chat = await start_chat(api, customer_token=first["customer_token"])

    assert chat["status"] == "active" and chat["continued_from"] is None
    contact = emulator.contact(await contact_id(runtime, chat))
    assert contact["related_contact_id"] is None


async def test_receipts_are_for_the_chats_own_messages_only(api, widget, runtime, emulator):
    first = await ended_chat(api, runtime, "my order is late")
    chat = await start_chat(api, customer_token=first["customer_token"])
    page = await events_after(api, chat)
    earlier = next(e["event"]["id"] for e in page["events"] if e["event"]["type"] == "message")

    response = await api.post(
        f"/chats/{chat['chat_id']}/events",
        json={"type": "read", "message_id": earlier},
        headers=bearer(chat),
    )

    assert_problem(response, 404, "unknown_message")
