"""A customer's chats in the archive: the one a new chat continues, and the ended ones they
may read back. Chats belong to a widget's customer by their customer key
(chatbridge.api.customers); nothing here calls Connect."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from chatbridge.archive.models import Chat
from chatbridge.chats.records import PreviousChat


def _customer_chats(widget_id: str, customer_key: str):
    return Chat.objects.filter(widget_id=widget_id, customer_key=customer_key).exclude(
        customer_key=""
    )


def previous_chat(
    widget_id: str, customer_key: str, *, window: timedelta, instance_id: str, region: str
) -> PreviousChat | None:
    """The chat a new chat of this customer continues, if any: their latest chat, when it has
    ended within `window` on the same Connect instance.

    Only the latest: Connect continues a contact once, so each continued chat must start from
    the newest of the chain, and a customer whose latest chat is still going (another tab, an
    app) is not continued from an older one."""
    latest = _customer_chats(widget_id, customer_key).order_by("-id").first()
    if latest is None or latest.status != Chat.Status.ENDED or not latest.contact_id:
        return None
    ended_at = latest.ended_at or latest.last_event_at
    if ended_at is None or ended_at < timezone.now() - window:
        return None
    if (latest.instance_id, latest.region) != (instance_id, region):
        return None
    return PreviousChat(chat_id=latest.chat_id, contact_id=latest.contact_id)


@dataclass(frozen=True, slots=True)
class ConversationsPage:
    chats: list[Chat]
    next_before: int | None


def ended_chats(
    widget_id: str, customer_key: str, *, before: int | None, limit: int
) -> ConversationsPage:
    """The customer's ended chats, newest first, `limit` at a time; `before` (the archive's
    row id, from the previous page) continues a listing."""
    rows = _customer_chats(widget_id, customer_key).filter(status=Chat.Status.ENDED)
    if before is not None:
        rows = rows.filter(id__lt=before)
    found = list(rows.order_by("-id")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return ConversationsPage(chats=found, next_before=found[-1].id if more and found else None)


def owned_chat(widget_id: str, customer_key: str, chat_id: str) -> Chat | None:
    """The customer's chat with this id, or None (not theirs, or unknown: the same answer)."""
    return _customer_chats(widget_id, customer_key).filter(chat_id=chat_id).first()
