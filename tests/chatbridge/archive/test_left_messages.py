"""Left messages in the admin: open requests first, filters, and marking them handled (audited),
for the "Transcript viewer" group. Served through ASGI, as daphne serves it."""

import re

import pytest
from asgiref.sync import sync_to_async

from chatbridge.archive.models import AuditEntry, LeftMessage

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/admin/archive/leftmessage/"


def leave(name: str, *, widget_id: str = "shop", status: str = "open") -> LeftMessage:
    return LeftMessage.objects.create(
        widget_id=widget_id,
        name=name,
        email=f"{name.lower()}@example.com",
        message=f"{name} would like a call back.",
        reason="outside_business_hours",
        status=status,
    )


def names(html: str) -> list[str]:
    return re.findall(r'class="field-name"><a [^>]*>([^<]*)</a>', html)


async def test_the_list_opens_on_the_open_requests_newest_first(staff_client):
    for name, status in (("Ada", "open"), ("Grace", "handled"), ("Alan", "open")):
        await sync_to_async(leave)(name, status=status)

    response = await staff_client.get(LIST)

    assert response.status_code == 200
    assert names(response.content.decode()) == ["Alan", "Ada"]
    handled = await staff_client.get(LIST + "?status=handled")
    assert names(handled.content.decode()) == ["Grace"]
    everything = await staff_client.get(LIST + "?status=all")
    assert names(everything.content.decode()) == ["Alan", "Grace", "Ada"]


async def test_the_list_filters_by_widget(staff_client):
    await sync_to_async(leave)("Ada", widget_id="shop")
    await sync_to_async(leave)("Alan", widget_id="help")

    response = await staff_client.get(LIST + "?widget_id=help")

    assert names(response.content.decode()) == ["Alan"]


async def test_marking_messages_handled_records_who_and_is_audited(staff_client):
    ada = await sync_to_async(leave)("Ada")
    alan = await sync_to_async(leave)("Alan")

    response = await staff_client.post(
        LIST, {"action": "mark_handled", "_selected_action": [ada.pk, alan.pk]}
    )

    assert response.status_code == 302
    for message in (ada, alan):
        await sync_to_async(message.refresh_from_db)()
        assert message.status == "handled" and message.handled_at is not None
        assert message.handled_by_id == staff_client.user.pk
    (entry,) = [entry async for entry in AuditEntry.objects.all()]
    assert entry.action == "handle" and entry.username == staff_client.user.username
    assert entry.detail == f"left messages {min(ada.pk, alan.pk)}, {max(ada.pk, alan.pk)}"


async def test_staff_without_the_permission_cannot_mark_messages_handled(async_client):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    def reader():
        user = get_user_model().objects.create_user("rita", password="x-pass-word-1", is_staff=True)
        user.user_permissions.add(Permission.objects.get(codename="view_leftmessage"))
        return user

    await async_client.aforce_login(await sync_to_async(reader)())
    ada = await sync_to_async(leave)("Ada")

    await async_client.post(LIST, {"action": "mark_handled", "_selected_action": [ada.pk]})

    await sync_to_async(ada.refresh_from_db)()
    assert ada.status == "open"
    assert await AuditEntry.objects.acount() == 0


async def test_a_message_cannot_be_edited_or_deleted(staff_client):
    ada = await sync_to_async(leave)("Ada")
    page = await staff_client.get(f"{LIST}{ada.pk}/change/")
    assert page.status_code == 200 and "Ada would like a call back." in page.content.decode()
    assert (await staff_client.get(f"{LIST}{ada.pk}/delete/")).status_code == 403
