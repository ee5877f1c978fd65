"""Writes a batch of archive entries to the database, in one transaction, idempotently.

The stream delivers at least once and, when a dead worker's entries are claimed, not
necessarily in order. So:

- events are inserted with ``ignore_conflicts`` (unique by (chat, seq) and (chat, item_id));
- a chat's counters are recomputed from its archived events, never incremented;
- metadata merges monotonically: an ended chat stays ended, whatever arrives late.

Chat rows are locked (in chat id order, so two workers cannot deadlock) before a batch's
events go in, so that concurrent workers recompute counters over each other's events.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Count, DateTimeField, F, Max, Min, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from chatbridge.archive.models import ID_LENGTH, NAME_LENGTH, Chat, ChatEvent
from chatbridge.chats.events import ATTACHMENT, MESSAGE
from chatbridge.chats.feed import ChatMeta, Entry, EventEntry, MetaEntry, clean, parse_time

logger = logging.getLogger(__name__)

COUNTED_TYPES = (MESSAGE, ATTACHMENT)
AGENT_ROLE = "AGENT"


def archive_entries(entries: Sequence[Entry]) -> list[Entry]:
    """Archives the entries; returns those the database refused while it was working.

    If the batch fails, the entries are written one by one: the ones that still fail while
    the database answers a trivial query are refused for their content (they would fail
    forever) and returned, so that they can be skipped. If the database does not answer,
    the error propagates and the whole batch is retried later.
    """
    try:
        write_batch(entries)
        return []
    except Exception as exc:
        if not database_answers():
            raise
        # The class name only: database errors may quote the values of a row.
        logger.warning(
            "An archive batch failed (%s); writing it entry by entry", type(exc).__name__
        )
    refused = []
    for entry in entries:
        try:
            write_batch([entry])
        except Exception:
            if not database_answers():
                raise
            refused.append(entry)
    return refused


def database_answers() -> bool:
    close_old_connections()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


def write_batch(entries: Sequence[Entry]) -> None:
    """Archives the entries; writing the same entries again changes nothing."""
    if not entries:
        return
    # A long-running worker has no requests to recycle its connection: do it per batch.
    close_old_connections()
    events = [entry for entry in entries if isinstance(entry, EventEntry)]
    metas = [entry for entry in entries if isinstance(entry, MetaEntry)]
    # Survey answers and e-mail requests are other workers' business.
    chat_ids = sorted({entry.chat_id for entry in (*events, *metas)})
    if not chat_ids:
        return
    with transaction.atomic():
        chats = _lock_chats(chat_ids)
        if metas:
            _merge_metas(chats, metas)
        if events:
            ChatEvent.objects.bulk_create(
                [_event_row(chats[entry.chat_id].pk, entry) for entry in events],
                ignore_conflicts=True,
            )
            _end_chats(chats, events)
            _recount({chats[entry.chat_id].pk for entry in events})


def _lock_chats(chat_ids: list[str]) -> dict[str, Chat]:
    """The chats' rows, locked; a stub row for a chat whose metadata has not arrived yet."""
    Chat.objects.bulk_create([Chat(chat_id=chat_id) for chat_id in chat_ids], ignore_conflicts=True)
    rows = Chat.objects.select_for_update().filter(chat_id__in=chat_ids).order_by("chat_id")
    return {chat.chat_id: chat for chat in rows}


def _merge_metas(chats: dict[str, Chat], metas: Iterable[MetaEntry]) -> None:
    by_chat: dict[str, list[ChatMeta]] = defaultdict(list)
    for entry in metas:
        by_chat[entry.chat_id].append(entry.meta)
    changed = []
    for chat_id, chat_metas in by_chat.items():
        chat = chats[chat_id]
        for meta in chat_metas:
            _merge_meta(chat, meta)
        chat.updated = timezone.now()
        changed.append(chat)
    Chat.objects.bulk_update(
        changed,
        [
            "contact_id",
            "participant_id",
            "display_name",
            "widget_id",
            "status",
            "started_at",
            "ended_at",
            "ended_reason",
            "customer_key",
            "continued_from",
            "instance_id",
            "region",
            "updated",
        ],
    )


def _merge_meta(chat: Chat, meta: ChatMeta) -> None:
    """Applies metadata so that the result does not depend on arrival order."""
    chat.contact_id = meta.contact_id or chat.contact_id
    chat.participant_id = meta.participant_id or chat.participant_id
    chat.display_name = meta.display_name or chat.display_name
    chat.widget_id = meta.widget_id or chat.widget_id
    chat.started_at = meta.created_at or chat.started_at
    chat.customer_key = meta.customer_key or chat.customer_key
    chat.continued_from = meta.continued_from or chat.continued_from
    chat.instance_id = meta.instance_id or chat.instance_id
    chat.region = meta.region or chat.region
    if meta.status == Chat.Status.ENDED:
        chat.status = Chat.Status.ENDED
        # The session store keeps the first end time, so every "ended" metadata agrees.
        chat.ended_at = meta.ended_at or chat.ended_at
        chat.ended_reason = meta.ended_reason or chat.ended_reason


def _event_row(chat_pk: int, entry: EventEntry) -> ChatEvent:
    event = entry.event
    return ChatEvent(
        chat_id=chat_pk,
        seq=entry.seq,
        item_id=event.id,
        type=clean(event.type, 16),
        content_type=clean(event.content_type, ID_LENGTH),
        content=None if event.content is None else clean(event.content),
        participant_role=clean(event.participant_role, 32),
        participant_id=clean(event.participant_id, ID_LENGTH),
        display_name=clean(event.display_name, NAME_LENGTH),
        absolute_time=parse_time(event.absolute_time),
        attachments=event.attachments,
        receipts=event.receipts,
        message_id=clean(event.message_id, ID_LENGTH),
        earlier=bool(event.earlier),
    )


def _end_chats(chats: dict[str, Chat], events: Iterable[EventEntry]) -> None:
    """A "chat ended" event ends the archived chat even if its final metadata never comes."""
    for entry in events:
        if not entry.event.ends_chat:
            continue
        chat = chats[entry.chat_id]
        Chat.objects.filter(pk=chat.pk).update(
            status=Chat.Status.ENDED,
            ended_at=Coalesce(
                F("ended_at"),
                Value(parse_time(entry.event.absolute_time), output_field=DateTimeField()),
            ),
        )


def _recount(chat_pks: set[int]) -> None:
    """Recomputes the chats' counters from their archived events, in one statement."""
    events = ChatEvent.objects.filter(chat=OuterRef("pk")).order_by().values("chat")
    # The earlier conversation a continued chat carries over is counted in its own chat.
    count = events.filter(type__in=COUNTED_TYPES, earlier=False).annotate(n=Count("pk")).values("n")
    last = events.annotate(t=Max("absolute_time")).values("t")
    first = events.annotate(t=Min("absolute_time")).values("t")
    agent = (
        ChatEvent.objects.filter(chat=OuterRef("pk"), participant_role=AGENT_ROLE, earlier=False)
        .exclude(display_name="")
        .order_by("seq")
        .values("display_name")[:1]
    )
    Chat.objects.filter(pk__in=chat_pks).update(
        message_count=Coalesce(Subquery(count), 0),
        last_event_at=Subquery(last),
        started_at=Coalesce(F("started_at"), Subquery(first)),
        agent_name=Coalesce(Subquery(agent), Value("")),
        updated=timezone.now(),
    )
