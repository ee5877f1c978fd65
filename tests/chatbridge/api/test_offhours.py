"""Business hours over REST: the config says whether the widget is open, a start outside hours
is refused with when it next opens, and customers leave a message instead (stored, e-mailed,
limited, and only from the widget's sites)."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgiref.sync import sync_to_async

from chatbridge.archive.models import LeftMessage
from chatbridge.asgi import application
from chatbridge.streams.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.support.loopback import loopback_only
from tests.support.rest import BASE, ORIGIN, assert_problem
from tests.support.webhook_receiver import Receiver
from webwidget.models import Holiday, Widget

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loopback_guard():
    with loopback_only() as refused:
        yield refused
    assert not refused, f"Traffic beyond loopback was attempted: {refused}"


MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Please call me back."}


async def close_for_three_days(widget: Widget) -> str:
    """Closes the widget from yesterday to tomorrow (UTC); when it opens again."""
    today = datetime.now(UTC).date()
    for offset in (-1, 0, 1):
        await sync_to_async(Holiday.objects.create)(
            widget=widget, date=today + timedelta(days=offset), name="Closed"
        )
    return f"{today + timedelta(days=2)}T00:00:00Z"


async def test_the_config_tells_whether_the_widget_is_open(api, widget):
    response = await api.get("/widgets/shop/config")
    assert response.status_code == 200
    assert response.json()["availability"] == {
        "open": True,
        "next_open": None,
        "closes_at": None,
        "time_zone": "UTC",
    }


async def test_the_config_tells_a_closed_widget_when_it_next_opens(api, widget):
    next_open = await close_for_three_days(widget)
    availability = (await api.get("/widgets/shop/config")).json()["availability"]
    assert availability["open"] is False and availability["next_open"] == next_open


async def test_a_chat_start_outside_business_hours_is_refused_with_next_open(api, widget, emulator):
    next_open = await close_for_three_days(widget)
    response = await api.post("/chats", json={"widget_id": "shop", "display_name": "Ada"})
    body = assert_problem(response, 409, "outside_business_hours")
    assert body["next_open"] == next_open
    assert emulator.contacts() == []


async def test_leaving_a_message_stores_an_open_request_and_emails_the_widget(
    api, widget, mailoutbox
):
    widget.notification_email = "support@shop.example.com"
    await sync_to_async(widget.save)()
    await close_for_three_days(widget)

    response = await api.post("/widgets/shop/messages", json=MESSAGE, headers={"Origin": ORIGIN})

    assert response.status_code == 201, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    answer = response.json()
    assert answer["status"] == "open" and answer["reason"] == "outside_business_hours"
    stored = await sync_to_async(LeftMessage.objects.get)(pk=answer["id"])
    assert (stored.widget_id, stored.email, stored.message, stored.status) == (
        "shop",
        "ada@example.com",
        "Please call me back.",
        "open",
    )
    (mail,) = mailoutbox
    assert mail.to == ["support@shop.example.com"] and mail.reply_to == ["ada@example.com"]
    assert "Please call me back." in mail.body and "Ada" in mail.subject


async def test_a_widget_without_a_notification_address_sends_no_email(api, widget, mailoutbox):
    response = await api.post("/widgets/shop/messages", json={**MESSAGE, "reason": "at_capacity"})
    assert response.status_code == 201 and response.json()["reason"] == "at_capacity"
    assert mailoutbox == []


async def test_a_message_with_a_bad_email_address_is_refused(api, widget):
    response = await api.post("/widgets/shop/messages", json={**MESSAGE, "email": "ada@"})
    assert assert_problem(response, 422, "invalid_input")["field"] == "email"
    assert await sync_to_async(LeftMessage.objects.count)() == 0


async def test_messages_are_limited_per_email_address(api, widget, settings):
    settings.CHATBRIDGE_LEFT_MESSAGES_PER_HOUR = 2
    for _ in range(2):
        assert (await api.post("/widgets/shop/messages", json=MESSAGE)).status_code == 201
    # From another client address, whose own count is still zero.
    transport = httpx.ASGITransport(app=application, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as elsewhere:
        refused = await elsewhere.post("/widgets/shop/messages", json=MESSAGE)
    assert_problem(refused, 429, "rate_limited")
    assert "retry-after" in refused.headers


async def test_messages_are_limited_per_client_address(api, widget, settings):
    settings.CHATBRIDGE_LEFT_MESSAGES_PER_HOUR = 2
    for n in range(2):
        body = {**MESSAGE, "email": f"ada{n}@example.com"}
        assert (await api.post("/widgets/shop/messages", json=body)).status_code == 201
    refused = await api.post("/widgets/shop/messages", json={**MESSAGE, "email": "x@example.com"})
    assert_problem(refused, 429, "rate_limited")


async def test_a_message_from_a_site_the_widget_does_not_allow_is_refused(api, widget):
    response = await api.post(
        "/widgets/shop/messages", json=MESSAGE, headers={"Origin": "https://evil.example"}
    )
    assert_problem(response, 403, "origin_not_allowed")
    assert "access-control-allow-origin" not in response.headers
    assert await sync_to_async(LeftMessage.objects.count)() == 0


async def test_a_message_for_an_unknown_widget_is_refused(api, widget):
    response = await api.post("/widgets/nope/messages", json=MESSAGE)
    assert_problem(response, 404, "unknown_widget")


async def test_a_new_holiday_closes_the_widget_at_once(api, widget):
    # The widget is looked up, with its hours, and remembered by this process...
    assert (await api.get("/widgets/shop/config")).json()["availability"]["open"]
    await close_for_three_days(widget)
    # ...and forgotten when a holiday is saved.
    assert not (await api.get("/widgets/shop/config")).json()["availability"]["open"]


async def test_a_left_message_is_delivered_to_the_widgets_webhook_signed(
    api, widget, runtime, settings, loopback_guard
):
    settings.DEBUG = True
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = ["127.0.0.0/8"]
    async with Receiver() as receiver:
        widget.webhook_url = receiver.url
        await sync_to_async(widget.save)()

        answer = (await api.post("/widgets/shop/messages", json=MESSAGE)).json()

        call = await receiver.next_call()
    assert verify(
        widget.webhook_secret,
        call["headers"][TIMESTAMP_HEADER.lower()],
        call["body"],
        call["headers"][SIGNATURE_HEADER.lower()],
    )
    payload = json.loads(call["body"])
    assert payload["type"] == "message.left"
    assert payload["id"] == f"left-message:{answer['id']}"
    assert payload["widget_id"] == "shop" and payload["chat_id"] is None
    assert {k: payload["data"][k] for k in ("id", "name", "email", "message", "reason")} == {
        "id": answer["id"],
        **MESSAGE,
        "reason": "other",
    }
