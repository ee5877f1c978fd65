"""Transcript exports: one chat as text or JSON, many chats as JSON Lines or CSV.

The many-chat exports are generators over `.iterator(chunk_size)` queries: chats are read in
pages of CHAT_PAGE, their events in one query per page, streamed in order, so memory holds one
page of chats and one chat's events whatever the size of the export. `stream()` wraps them for
a StreamingHttpResponse: under ASGI Django would otherwise read a synchronous iterator to the
end before sending a byte, so there the generator is driven from a worker thread in batches.
"""

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse

from chatbridge.archive.models import Chat, ChatEvent
from chatbridge.archive.surveys import survey_summary
from chatbridge.archive.transcript import Entry, conversation

# The columns every row of a chat repeats (the rest describe one event).
CHAT_COLUMNS = 11
CHAT_PAGE = 100
EVENT_CHUNK = 500
ASYNC_BATCH = 64
CSV_COLUMNS = [
    "chat_id",
    "contact_id",
    "customer",
    "widget",
    "agent",
    "status",
    "started_at",
    "ended_at",
    "survey_scale",
    "survey_rating",
    "survey_comment",
    "seq",
    "time",
    "kind",
    "role",
    "name",
    "text",
    "attachments",
    "delivered_at",
    "read_at",
]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def chat_summary(chat: Chat) -> dict[str, Any]:
    duration = chat.duration
    return {
        "chat_id": chat.chat_id,
        "contact_id": chat.contact_id,
        "customer": chat.display_name,
        "widget": chat.widget_id,
        "agent": chat.agent_name,
        "status": chat.status,
        "started_at": _iso(chat.started_at),
        "ended_at": _iso(chat.ended_at),
        "ended_reason": chat.ended_reason,
        "duration_seconds": int(duration.total_seconds()) if duration is not None else None,
        "message_count": chat.message_count,
        "survey": survey_summary(chat),
    }


def chat_json(chat: Chat, entries: list[Entry]) -> dict[str, Any]:
    return {"chat": chat_summary(chat), "events": [entry.as_dict() for entry in entries]}


def chat_text(chat: Chat, entries: Iterable[Entry]) -> str:
    """A plain-text transcript, one line per message or event."""
    lines = [
        f"Chat {chat.chat_id}",
        f"Customer: {chat.display_name or '-'}    Agent: {chat.agent_name or '-'}"
        f"    Widget: {chat.widget_id or '-'}",
        f"Started: {_iso(chat.started_at) or '-'}    Ended: {_iso(chat.ended_at) or '-'}"
        f"    Status: {chat.status}",
    ]
    survey = survey_summary(chat)
    if survey is not None:
        lines.append(f"Survey: {survey['label']}")
        if survey["comment"]:
            lines.append(f"Comment: {survey['comment']}")
    lines.append("")
    for entry in entries:
        when = entry.time.strftime("%Y-%m-%d %H:%M:%S") if entry.time else "????-??-?? ??:??:??"
        who = f"{entry.name or entry.role_label.capitalize()} ({entry.role_label})"
        if entry.kind == "system":
            lines.append(f"[{when}] * {entry.text}")
        elif entry.kind == "attachment":
            files = ", ".join(f"{a.name} ({a.content_type or 'file'})" for a in entry.attachments)
            lines.append(f"[{when}] {who} shared {files}")
        else:
            text = entry.text.replace("\n", "\n    ")
            receipt = f"  [{entry.receipt.label.lower()}]" if entry.receipt else ""
            lines.append(f"[{when}] {who}: {text}{receipt}")
    return "\n".join(lines) + "\n"


def chats_with_events(chats: QuerySet[Chat]) -> Iterator[tuple[Chat, list[Entry]]]:
    """Every chat of the queryset with its conversation, one chat in memory at a time."""
    using = chats.db
    chats = chats.select_related("survey")
    page: list[Chat] = []
    for chat in chats.iterator(chunk_size=CHAT_PAGE):
        page.append(chat)
        if len(page) == CHAT_PAGE:
            yield from _page_with_events(page, using)
            page = []
    if page:
        yield from _page_with_events(page, using)


def _page_with_events(page: list[Chat], using: str) -> Iterator[tuple[Chat, list[Entry]]]:
    by_pk = {chat.pk: chat for chat in page}
    events = (
        ChatEvent.objects.using(using)
        .filter(chat_id__in=list(by_pk))
        .order_by("chat_id", "seq")
        .iterator(chunk_size=EVENT_CHUNK)
    )
    current: list[ChatEvent] = []
    current_pk = None
    done = set()
    for event in events:
        if event.chat_id != current_pk:
            if current_pk is not None:
                done.add(current_pk)
                yield by_pk[current_pk], conversation(current)
            current, current_pk = [], event.chat_id
        current.append(event)
    if current_pk is not None:
        done.add(current_pk)
        yield by_pk[current_pk], conversation(current)
    for chat in page:
        if chat.pk not in done:
            yield chat, []


def jsonl_lines(chats: QuerySet[Chat]) -> Iterator[str]:
    for chat, entries in chats_with_events(chats):
        yield json.dumps(chat_json(chat, entries), ensure_ascii=False) + "\n"


def csv_lines(chats: QuerySet[Chat]) -> Iterator[str]:
    """One row per message or event, with its chat's columns repeated."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for chat, entries in chats_with_events(chats):
        summary = chat_summary(chat)
        survey = summary["survey"] or {}
        summary.update(
            {f"survey_{name}": survey.get(name) for name in ("scale", "rating", "comment")}
        )
        chat_columns = [
            "" if summary[name] is None else summary[name] for name in CSV_COLUMNS[:CHAT_COLUMNS]
        ]
        for entry in entries:
            row = entry.as_dict()
            files = "; ".join(a["name"] for a in row["attachments"])
            writer.writerow(
                [
                    *chat_columns,
                    row["seq"],
                    row["time"] or "",
                    row["kind"],
                    row["role"],
                    row["name"],
                    row["text"],
                    files,
                    row["delivered_at"] or "",
                    row["read_at"] or "",
                ]
            )
        yield flush()


def _csv_safe(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: quote those."""
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


class SafeCsvWriter:
    """A csv.writer that passes every cell through `_csv_safe`.

    Any column may carry text a customer or an agent chose (their names as much as their
    messages), so no CSV export writes a row except through this: a column added later is
    defused without anyone having to remember it.
    """

    def __init__(self, stream: io.StringIO) -> None:
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow(_csv_safe("" if cell is None else str(cell)) for cell in row)


def _take(iterator: Iterator[str], count: int) -> list[bytes]:
    return [part.encode() for part in islice(iterator, count)]


async def _async_stream(lines: Iterator[str]) -> AsyncIterator[bytes]:
    # thread_sensitive: every batch runs in the same thread as the request's other
    # database work, so the generator's cursors stay on one connection.
    take = sync_to_async(_take, thread_sensitive=True)
    while batch := await take(lines, ASYNC_BATCH):
        for part in batch:
            yield part


def stream(request: HttpRequest, lines: Iterator[str], *, content_type: str, filename: str):
    content = _async_stream(lines) if isinstance(request, ASGIRequest) else lines
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
