"""The two ``connect`` operations a chat needs: StartChatContact and StopContact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import clock
from .chat import ALL_MESSAGE_TYPES
from .errors import (
    CONTACT_NOT_FOUND,
    INVALID_PARAMETER,
    INVALID_REQUEST,
    LIMIT_EXCEEDED,
    RESOURCE_NOT_FOUND,
    ServiceError,
)
from .participant_api import Handler, connection_details
from .persistence import rehydrate, rehydration_source
from .quotas import ACTIVE_CHATS
from .state import CUSTOMER

# ChatDurationInMinutes when none is given: 25 hours (the model bounds it to 60..10080).
DEFAULT_CHAT_DURATION_MINUTES = 1500

if TYPE_CHECKING:
    from .dispatch import CallContext


def _check_instance(ctx: CallContext, instance_id: str) -> None:
    configured = ctx.emulator.config.instance_id
    if configured is not None and instance_id != configured:
        raise ServiceError(
            RESOURCE_NOT_FOUND,
            f"Instance {instance_id} not found",
            ResourceType="INSTANCE",
            ResourceId=instance_id,
        )


async def start_chat_contact(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    store = ctx.emulator.store
    client_token = params.get("ClientToken")
    if client_token and client_token in store.start_idempotency:
        return store.start_idempotency[client_token]
    _check_instance(ctx, params["InstanceId"])
    if not params["ContactFlowId"]:
        raise ServiceError(INVALID_PARAMETER, "ContactFlowId must not be empty")
    supported = params.get("SupportedMessagingContentTypes")
    if supported is not None:
        unknown = [t for t in supported if t not in ALL_MESSAGE_TYPES]
        if unknown or "text/plain" not in supported:
            raise ServiceError(
                INVALID_REQUEST,
                "SupportedMessagingContentTypes must include text/plain and only "
                f"{', '.join(ALL_MESSAGE_TYPES)}",
            )
    initial = params.get("InitialMessage")
    if initial is not None and initial["ContentType"] not in (supported or ALL_MESSAGE_TYPES):
        raise ServiceError(INVALID_REQUEST, "InitialMessage.ContentType is not supported")
    source = rehydration_source(store, params["InstanceId"], params.get("PersistentChat"))
    limit = ctx.emulator.quotas.limit(ACTIVE_CHATS)
    if limit is not None and store.active_chats(params["InstanceId"]) >= limit:
        raise ServiceError(
            LIMIT_EXCEEDED, "The quota of concurrent active chats for this instance is reached"
        )

    contact = store.new_contact(
        params["InstanceId"], params["ContactFlowId"], params.get("Attributes") or {}
    )
    contact.supported_content_types = tuple(supported or ())
    duration = params.get("ChatDurationInMinutes") or DEFAULT_CHAT_DURATION_MINUTES
    contact.ends_at = contact.started_at + duration * 60
    contact.connect_by = clock.now() + ctx.emulator.config.first_connection_window
    store.add_deadline(contact, contact.ends_at)
    store.add_deadline(contact, contact.connect_by)
    if source is not None:
        rehydrate(source, contact)
    chat = ctx.emulator.chat
    customer = chat.join(
        contact, CUSTOMER, params["ParticipantDetails"]["DisplayName"], with_token=True
    )
    if initial is not None:
        chat.message(contact, customer, initial["ContentType"], initial["Content"])
    ctx.emulator.agents.contact_started(contact)

    answer: dict[str, Any] = {
        "ContactId": contact.contact_id,
        "ParticipantId": customer.participant_id,
        "ParticipantToken": customer.participant_token,
    }
    types = params.get("ConnectionTypes") or []
    if "WEBSOCKET" in types or "CONNECTION_CREDENTIALS" in types:
        config = ctx.emulator.config
        connection = store.new_connection(
            customer, config.connection_token_ttl, config.websocket_url_ttl
        )
        contact.connect_by = None
        answer.update(connection_details(ctx, connection, types))
    if contact.related_contact_id is not None:
        answer["ContinuedFromContactId"] = contact.related_contact_id
    if client_token:
        store.start_idempotency[client_token] = answer
    return answer


async def stop_contact(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    _check_instance(ctx, params["InstanceId"])
    contact = ctx.emulator.store.contacts.get(params["ContactId"])
    if contact is None or not contact.active or contact.instance_id != params["InstanceId"]:
        raise ServiceError(CONTACT_NOT_FOUND, "The contact is not active or does not exist")
    ctx.emulator.chat.end(contact)
    return {}


HANDLERS: dict[str, Handler] = {
    "StartChatContact": start_chat_contact,
    "StopContact": stop_contact,
}
