"""The transcript viewer in the admin: list, filters, search, transcript page, permissions
and the audit log. Served through ASGI, as daphne serves it."""

import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from chatbridge.archive.models import AuditEntry, Chat, ChatEvent
from tests.chatbridge.archive.factories import T0, make_chat

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/admin/archive/chat/"


def rows(html: str) -> list[str]:
    """The customer names of the changelist's rows, in order."""
    return re.findall(r'<td class="field-customer"><a [^>]*>([^<]*)</a>', html) or re.findall(
        r'<th class="field-customer"><a [^>]*>([^<]*)</a>', html
    )


async def chats(*specs: dict) -> list[Chat]:
    return [await sync_to_async(make_chat)(**spec) for spec in specs]


async def audit_entries() -> list[AuditEntry]:
    return [entry async for entry in AuditEntry.objects.order_by("pk")]


async def test_the_list_shows_the_columns_newest_first(staff_client):
    await chats(
        {"chat_id": "old", "customer": "Old Customer", "started": T0 - timedelta(days=2)},
        {"chat_id": "new", "customer": "New Customer", "started": T0},
        {"chat_id": "mid", "customer": "Mid Customer", "started": T0 - timedelta(days=1)},
    )

    response = await staff_client.get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert rows(html) == ["New Customer", "Mid Customer", "Old Customer"]
    for column in ("started", "ended", "duration", "customer", "widget", "agent", "status"):
        assert f"column-{column}" in html or f"column-{column}_" in html
    assert "7m 05s" in html
    assert "column-message_count" in html


async def test_the_list_is_paginated(staff_client):
    await chats(*({"chat_id": f"c{n}", "customer": f"Customer {n}"} for n in range(55)))

    first = (await staff_client.get(LIST)).content.decode()
    second = (await staff_client.get(LIST + "?p=2")).content.decode()

    assert len(rows(first)) == 50
    assert len(rows(second)) == 5


async def test_filters_by_status_widget_agent_and_date(staff_client):
    await chats(
        {"chat_id": "a", "customer": "Ann", "widget": "sales", "agent": "Sam"},
        {"chat_id": "b", "customer": "Bob", "ended": False, "started": T0 + timedelta(days=1)},
        {"chat_id": "c", "customer": "Cid", "agent": "Sam", "started": T0 - timedelta(days=3)},
    )

    async def names(query: str) -> list[str]:
        response = await staff_client.get(LIST + query)
        assert response.status_code == 200
        return sorted(rows(response.content.decode()))

    assert await names("?status__exact=active") == ["Bob"]
    assert await names("?widget_id=sales") == ["Ann"]
    assert await names("?agent_name=Sam") == ["Ann", "Cid"]
    assert await names("?started_from=2026-03-02&started_to=2026-03-02") == ["Ann"]
    assert await names("?started_from=2026-03-02") == ["Ann", "Bob"]
    assert await names("?started_to=2026-03-01") == ["Cid"]
    assert await names("?started_to=2026-03-01&agent_name=Sam") == ["Cid"]
    # A malformed date is ignored rather than answered with an error.
    assert await names("?started_from=yesterday") == ["Ann", "Bob", "Cid"]


async def test_the_date_filter_keeps_the_other_filters(staff_client):
    await chats({"chat_id": "a", "customer": "Ann"})

    html = (await staff_client.get(LIST + "?status__exact=ended&q=order")).content.decode()

    form = html[html.index('class="date-range-filter') :]
    form = form[: form.index("</form>")]
    assert 'name="status__exact" value="ended"' in form
    assert 'name="q" value="order"' in form
    assert 'type="date" name="started_from"' in form


async def test_search_finds_chats_by_message_text_name_and_id(staff_client):
    await chats(
        {"chat_id": "a", "customer": "Ann", "messages": [("CUSTOMER", "My parcel is late")]},
        {"chat_id": "b", "customer": "Bob", "messages": [("AGENT", "Your REFUND is on its way")]},
        {"chat_id": "c", "customer": "Cid", "agent": "Parcel Pete", "messages": []},
    )

    async def found(term: str) -> list[str]:
        response = await staff_client.get(LIST, {"q": term})
        return sorted(rows(response.content.decode()))

    assert await found("parcel") == ["Ann", "Cid"]  # Ann's message, Cid's agent
    assert await found("refund") == ["Bob"]
    assert await found('"is on its way"') == ["Bob"]
    assert await found("b") == ["Bob"]  # the customer's name
    assert await found("nothing like this") == []


async def test_searching_is_audited_with_its_terms(staff_client):
    await chats({"chat_id": "a", "messages": [("CUSTOMER", "My parcel is late")]})

    await staff_client.get(LIST)
    await staff_client.get(LIST, {"q": " parcel ", "_facets": "1", "status__exact": "ended"})

    [entry] = await audit_entries()
    assert (entry.username, entry.action, entry.chat_id) == ("quinn", "search", "")
    assert entry.detail == "parcel"


async def test_a_search_through_the_autocomplete_endpoint_is_audited(staff_client):
    await chats({"chat_id": "a", "messages": [("CUSTOMER", "My parcel is late")]})

    response = await staff_client.get(
        "/admin/autocomplete/",
        {"app_label": "archive", "model_name": "chatevent", "field_name": "chat", "term": "parcel"},
    )

    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Ada Lovelace (a)"]
    [entry] = await audit_entries()
    assert (entry.username, entry.action, entry.detail) == ("quinn", "search", "parcel")


async def test_the_transcript_reads_like_the_conversation(staff_client):
    [chat] = await chats({"chat_id": "chat-1"})

    response = await staff_client.get(f"{LIST}{chat.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="entry entry-message side-customer"' in html
    assert 'class="entry entry-message side-agent"' in html
    assert "Alice joined the chat" in html and "The chat ended" in html
    assert "Hello, my order has not arrived" in html
    assert '<span class="receipt-read">Read</span>' in html
    assert "parcel-photo.png" in html and f"{LIST}{chat.pk}/attachments/att-chat-1/" in html
    # No inline script or style: a strict Content-Security-Policy applies to the admin.
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", html)
    assert " style=" not in html
    # An ended chat has nothing to follow live.
    assert "data-live-url" not in html


async def test_the_earlier_conversation_of_a_continued_chat_is_marked(staff_client):
    [chat] = await chats({"chat_id": "chat-1"})
    await ChatEvent.objects.filter(chat=chat, item_id="chat-1-m0").aupdate(earlier=True)

    response = await staff_client.get(f"{LIST}{chat.pk}/change/")

    html = response.content.decode()
    earlier = re.findall(r'<li class="entry [^"]*entry-earlier"[^>]*data-item="([^"]+)"', html)
    assert earlier == ["chat-1-m0"]
    assert html.count('<span class="earlier">earlier conversation</span>') == 1


async def test_a_live_chat_page_carries_its_websocket_and_position(staff_client):
    [chat] = await chats({"chat_id": "live-1", "ended": False})

    html = (await staff_client.get(f"{LIST}{chat.pk}/change/")).content.decode()

    assert 'data-live-url="/ws/staff/chats/live-1/"' in html
    assert 'data-after="6"' in html
    assert "archive/transcript.js" in html


async def test_redaction_applies_to_the_page(staff_client, settings):
    settings.CHATBRIDGE_REDACT_PII = True
    [chat] = await chats({"chat_id": "chat-1"})

    html = (await staff_client.get(f"{LIST}{chat.pk}/change/")).content.decode()

    assert "ada@example.com" not in html
    assert "you can reach me at [email]" in html


async def test_viewing_is_audited(staff_client):
    [chat] = await chats({"chat_id": "chat-1"})

    await staff_client.get(f"{LIST}{chat.pk}/change/")

    [entry] = await audit_entries()
    assert (entry.username, entry.action, entry.chat_id) == ("quinn", "view", "chat-1")


async def test_a_superuser_viewing_is_audited_too(async_client):
    [chat] = await chats({"chat_id": "chat-1"})
    user = await sync_to_async(get_user_model().objects.create_superuser)("root", password="x")
    await async_client.aforce_login(user)

    assert (await async_client.get(f"{LIST}{chat.pk}/change/")).status_code == 200

    [entry] = await audit_entries()
    assert (entry.username, entry.action, entry.chat_id) == ("root", "view", "chat-1")


async def test_opening_an_attachment_is_audited(staff_client):
    [chat] = await chats({"chat_id": "chat-1"})

    await staff_client.get(f"{LIST}{chat.pk}/attachments/att-chat-1/")

    [entry] = await audit_entries()
    assert (entry.username, entry.action, entry.chat_id) == ("quinn", "view", "chat-1")
    assert entry.detail == "attachment att-chat-1"


async def test_a_viewer_cannot_change_add_or_delete(staff_client):
    [chat] = await chats({"chat_id": "chat-1"})

    assert (await staff_client.post(f"{LIST}{chat.pk}/change/", {})).status_code == 403
    assert (await staff_client.get(f"{LIST}{chat.pk}/delete/")).status_code == 403
    assert (await staff_client.post(f"{LIST}{chat.pk}/delete/", {"post": "yes"})).status_code == 403
    assert (await staff_client.get(f"{LIST}add/")).status_code == 403
    assert await Chat.objects.acount() == 1
    html = (await staff_client.get(LIST)).content.decode()
    assert "Delete selected" not in html


async def test_the_audit_log_is_readable_and_unchangeable(staff_client):
    [chat] = await chats({"chat_id": "chat-1"})
    await staff_client.get(f"{LIST}{chat.pk}/change/")
    entry = (await audit_entries())[0]

    listing = await staff_client.get("/admin/archive/auditentry/")
    assert listing.status_code == 200
    assert "chat-1" in listing.content.decode()
    assert (await staff_client.get("/admin/archive/auditentry/add/")).status_code == 403
    assert (
        await staff_client.get(f"/admin/archive/auditentry/{entry.pk}/delete/")
    ).status_code == 403
    change = await staff_client.post(f"/admin/archive/auditentry/{entry.pk}/change/", {})
    assert change.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        LIST,
        "/admin/archive/auditentry/",
        "/admin/archive/chat/export/jsonl/",
        "/admin/archive/chat/{pk}/change/",
        "/admin/archive/chat/{pk}/export/txt/",
    ],
)
async def test_anonymous_users_see_nothing(async_client, path):
    [chat] = await chats({"chat_id": "chat-1"})

    response = await async_client.get(path.format(pk=chat.pk))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert await AuditEntry.objects.acount() == 0


async def test_staff_without_the_view_permission_see_nothing(async_client):
    [chat] = await chats({"chat_id": "chat-1"})
    user = await sync_to_async(get_user_model().objects.create_user)(
        "intern", password="x", is_staff=True
    )
    await async_client.aforce_login(user)

    assert (await async_client.get(LIST)).status_code == 403
    assert (await async_client.get(f"{LIST}{chat.pk}/change/")).status_code == 403
    assert (await async_client.get(f"{LIST}{chat.pk}/export/json/")).status_code == 403
    assert await AuditEntry.objects.acount() == 0


async def test_an_attachment_of_an_ended_chat_explains_where_the_file_is(staff_client):
    [chat] = await chats({"chat_id": "chat-1"})

    response = await staff_client.get(f"{LIST}{chat.pk}/attachments/att-chat-1/")

    assert response.status_code == 410
    assert "contact-chat-1" in response.content.decode()
    assert (await staff_client.get(f"{LIST}{chat.pk}/attachments/nope/")).status_code == 404
