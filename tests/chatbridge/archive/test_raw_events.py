"""The raw event rows in the admin: closed to the "Transcript viewer" group, and every row
opened by the staff who may is in the audit log."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from chatbridge.archive.models import AuditEntry, ChatEvent
from tests.chatbridge.archive.factories import make_chat

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = "/admin/archive/chatevent/"


async def first_message() -> ChatEvent:
    await sync_to_async(make_chat)("chat-1")
    return await ChatEvent.objects.aget(chat__chat_id="chat-1", type="message", seq=2)


async def entries() -> list[tuple[str, str, str, str]]:
    return [
        (entry.username, entry.action, entry.chat_id, entry.detail)
        async for entry in AuditEntry.objects.order_by("pk")
    ]


@pytest.fixture
async def superuser_client(async_client):
    user = await sync_to_async(get_user_model().objects.create_superuser)("root", password="x")
    await async_client.aforce_login(user)
    return async_client


async def test_a_viewer_is_refused_the_raw_event_list_and_rows(staff_client):
    event = await first_message()

    assert (await staff_client.get(EVENTS)).status_code == 403
    assert (await staff_client.get(f"{EVENTS}{event.pk}/change/")).status_code == 403
    assert (await staff_client.get(f"{EVENTS}{event.pk}/history/")).status_code == 403
    assert (await staff_client.get(f"{EVENTS}{event.pk + 1000}/change/")).status_code == 403
    assert await entries() == []


async def test_the_admin_index_does_not_offer_the_raw_events_to_a_viewer(staff_client):
    html = (await staff_client.get("/admin/")).content.decode()

    assert "/admin/archive/chat/" in html
    assert EVENTS not in html


async def test_a_superuser_opening_a_raw_event_is_audited(superuser_client):
    event = await first_message()

    response = await superuser_client.get(f"{EVENTS}{event.pk}/change/")

    assert response.status_code == 200
    assert "Hello, my order has not arrived" in response.content.decode()
    assert await entries() == [("root", "view", "chat-1", "raw event #2")]


async def test_staff_given_the_raw_event_permission_explicitly_open_rows_audited(staff_client):
    event = await first_message()
    permission = await Permission.objects.aget(codename="view_chatevent")
    await sync_to_async(staff_client.user.user_permissions.add)(permission)

    response = await staff_client.get(f"{EVENTS}{event.pk}/change/")

    assert response.status_code == 200
    assert await entries() == [("quinn", "view", "chat-1", "raw event #2")]


async def test_the_raw_event_list_cannot_be_filtered_by_what_was_said(superuser_client):
    await first_message()

    assert (await superuser_client.get(EVENTS, {"content__icontains": "order"})).status_code == 400
    assert (await superuser_client.get(EVENTS, {"type": "message"})).status_code == 200
