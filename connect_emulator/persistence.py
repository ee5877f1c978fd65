"""Persistent chat: StartChatContact's ``PersistentChat`` continues a past, ended chat.

Connect rehydrates the past transcript onto the new contact. ``ENTIRE_PAST_SESSION`` takes
the initial contact id of a past chat session and continues from that session's most recently
ended contact; ``FROM_SEGMENT`` continues from exactly the contact named. Only ended chats may
be rehydrated, and a contact may be continued once. The new contact's RelatedContactId (and
StartChatContact's ContinuedFromContactId) is the contact used; in GetTranscript the past
items carry the contact they were sent on as RelatedContactId and no ContactId."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .errors import INVALID_PARAMETER, INVALID_REQUEST, RESOURCE_NOT_FOUND, ServiceError
from .state import Contact, Store

ENTIRE_PAST_SESSION = "ENTIRE_PAST_SESSION"
FROM_SEGMENT = "FROM_SEGMENT"


def rehydration_source(
    store: Store, instance_id: str, persistent: dict[str, Any] | None
) -> Contact | None:
    """The past contact a new chat continues, or None without PersistentChat."""
    if persistent is None:
        return None
    kind = persistent.get("RehydrationType")
    source_id = persistent.get("SourceContactId")
    if not kind or not source_id:
        raise ServiceError(
            INVALID_PARAMETER,
            "PersistentChat needs both RehydrationType and SourceContactId",
        )
    named = store.contacts.get(source_id)
    if named is None or named.instance_id != instance_id:
        raise ServiceError(RESOURCE_NOT_FOUND, f"Contact {source_id} not found")
    if kind == ENTIRE_PAST_SESSION:
        session = [c for c in store.contacts.values() if c.initial_contact_id == source_id]
        if not session:
            raise ServiceError(
                INVALID_REQUEST,
                "ENTIRE_PAST_SESSION takes the initialContactId of a past chat session",
            )
        source = max(session, key=lambda c: c.ended_at or 0.0)
    else:
        source = named
    if source.active:
        raise ServiceError(INVALID_REQUEST, _NOT_ENDED)
    if source.rehydrated:
        raise ServiceError(
            INVALID_REQUEST, f"Contact {source.contact_id} has already been continued"
        )
    return source


_NOT_ENDED = "Only chat sessions that have ended can be rehydrated onto a new chat"


def rehydrate(source: Contact, contact: Contact) -> None:
    """Carry the source's transcript (its own past included) onto the new contact."""
    contact.related_contact_id = source.contact_id
    own = [
        replace(item, contact_id=None, initial_contact_id=None, related_contact_id=item.contact_id)
        for item in source.items
        if item.in_transcript
    ]
    contact.past_items = [*source.past_items, *own]
    source.rehydrated = True


def contact_chain(contact: Contact) -> set[str]:
    """Every contact id GetTranscript's ContactId may name for this chat."""
    past = {item.related_contact_id for item in contact.past_items}
    return {contact.contact_id, contact.initial_contact_id, *(i for i in past if i)}
