"""The Connect Participant Service operations. Parameters arrive parsed and validated
against the model (see service_model); these handlers hold only the behaviour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from . import attachments, clock, transcript
from .chat import CUSTOMER_MESSAGE_TYPES, receipt_target
from .errors import RESOURCE_NOT_FOUND, VALIDATION, ServiceError, access_denied
from .state import (
    CONNECTION_ACKNOWLEDGED,
    CUSTOMER,
    MESSAGE_DELIVERED,
    MESSAGE_READ,
    TYPING,
    Connection,
    Contact,
    Participant,
)

if TYPE_CHECKING:
    from .dispatch import CallContext

Handler = Callable[["CallContext", dict[str, Any]], Awaitable[dict[str, Any]]]


def _caller(ctx: CallContext, params: dict[str, Any]) -> tuple[Contact, Participant]:
    """The contact and participant of a ConnectionToken; AccessDenied when the token is
    unknown (a participant token included), expired, revoked, or the chat is over."""
    store = ctx.emulator.store
    token = params["ConnectionToken"]
    connection = store.connections.get(token)
    if connection is None:
        if token in store.participant_tokens:
            raise access_denied("A participant token is not a connection token")
        raise access_denied("The connection token is not valid")
    if connection.revoked:
        raise access_denied("The connection token is no longer valid")
    if not connection.valid():
        raise access_denied("The connection token has expired")
    contact = store.contacts.get(connection.contact_id)
    participant = store.participant_for(connection)
    if contact is None or participant is None or not contact.active or not participant.active:
        raise access_denied("The participant is no longer part of the chat")
    return contact, participant


def _remembered(participant: Participant, operation: str, params: dict[str, Any]) -> Any:
    token = params.get("ClientToken")
    return participant.idempotency.get((operation, token)) if token else None


def _remember(
    participant: Participant, operation: str, params: dict[str, Any], answer: dict[str, Any]
) -> dict[str, Any]:
    if params.get("ClientToken"):
        participant.idempotency[(operation, params["ClientToken"])] = answer
    return answer


def connection_details(
    ctx: CallContext, connection: Connection, types: list[str]
) -> dict[str, Any]:
    """The Websocket and ConnectionCredentials members, as far as ``types`` asks."""
    answer: dict[str, Any] = {}
    if "WEBSOCKET" in types:
        answer["Websocket"] = {
            "Url": f"{ctx.websocket_base}/connection?X-Amz-Security-Token="
            f"{connection.websocket_token}",
            "ConnectionExpiry": clock.iso(connection.websocket_expires_at),
        }
    if "CONNECTION_CREDENTIALS" in types:
        answer["ConnectionCredentials"] = {
            "ConnectionToken": connection.connection_token,
            "Expiry": clock.iso(connection.expires_at),
        }
    return answer


async def create_participant_connection(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    store = ctx.emulator.store
    participant = store.participant_tokens.get(params["ParticipantToken"])
    if participant is None:
        raise access_denied("The participant token is not valid")
    contact = store.contacts[participant.contact_id]
    if not contact.active or not participant.active:
        raise access_denied("The participant is no longer part of the chat")
    types = params.get("Type") or []
    if "WEBRTC_CONNECTION" in types:
        raise ServiceError(VALIDATION, "WebRTC is not enabled for this contact")
    config = ctx.emulator.config
    connection = store.new_connection(
        participant, config.connection_token_ttl, config.websocket_url_ttl
    )
    if participant.role == CUSTOMER:
        contact.connect_by = None
    answer = connection_details(ctx, connection, types)
    if params.get("ConnectParticipant"):
        ctx.emulator.chat.acknowledge(contact, participant)
    return answer


async def send_message(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    contact, participant = _caller(ctx, params)
    if (found := _remembered(participant, "SendMessage", params)) is not None:
        return found
    content_type = params["ContentType"]
    allowed = [t for t in CUSTOMER_MESSAGE_TYPES if t in (contact.supported_content_types or [t])]
    if content_type not in allowed:
        raise ServiceError(
            VALIDATION, f"ContentType {content_type!r} is not supported; use one of {allowed}"
        )
    item = ctx.emulator.chat.message(contact, participant, content_type, params["Content"])
    answer = {"Id": item.id, "AbsoluteTime": item.absolute_time}
    return _remember(participant, "SendMessage", params, answer)


async def send_event(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    contact, participant = _caller(ctx, params)
    if (found := _remembered(participant, "SendEvent", params)) is not None:
        return found
    chat = ctx.emulator.chat
    content_type = params["ContentType"]
    if content_type == TYPING:
        item = chat.typing(contact, participant)
    elif content_type == CONNECTION_ACKNOWLEDGED:
        item = chat.acknowledge(contact, participant)
    elif content_type in (MESSAGE_DELIVERED, MESSAGE_READ):
        kind = "read" if content_type == MESSAGE_READ else "delivered"
        item = chat.receipt(contact, participant, receipt_target(params.get("Content")), kind)
    else:
        raise ServiceError(VALIDATION, f"ContentType {content_type!r} is not a supported event")
    answer = {"Id": item.id, "AbsoluteTime": item.absolute_time}
    return _remember(participant, "SendEvent", params, answer)


async def get_transcript(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    contact, _ = _caller(ctx, params)
    return transcript.get_transcript(contact, params)


async def disconnect_participant(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    contact, participant = _caller(ctx, params)
    ctx.emulator.chat.leave(contact, participant)
    return {}


async def start_attachment_upload(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    contact, participant = _caller(ctx, params)
    if (found := _remembered(participant, "StartAttachmentUpload", params)) is not None:
        return found
    answer = attachments.start_upload(
        ctx.emulator.store,
        contact,
        participant,
        params,
        ctx.emulator.config.max_attachments,
        ctx.http_base,
    )
    return _remember(participant, "StartAttachmentUpload", params, answer)


async def complete_attachment_upload(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    contact, participant = _caller(ctx, params)
    if (found := _remembered(participant, "CompleteAttachmentUpload", params)) is not None:
        return found
    uploads = [attachments.uploaded(contact, participant, i) for i in params["AttachmentIds"]]
    for upload in uploads:
        ctx.emulator.chat.attachment(contact, participant, upload)
    return _remember(participant, "CompleteAttachmentUpload", params, {})


async def get_attachment(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    contact, _ = _caller(ctx, params)
    return attachments.download(contact, params, ctx.http_base)


async def describe_view(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """The emulated instance has no views."""
    _caller(ctx, params)
    raise ServiceError(
        RESOURCE_NOT_FOUND, "The view does not exist", ResourceId=params["ViewToken"]
    )


async def get_authentication_url(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """The emulated flows have no Authenticate Customer block, so no session exists."""
    _caller(ctx, params)
    raise ServiceError(VALIDATION, f"No authentication session {params['SessionId']} in this chat")


async def cancel_participant_authentication(
    ctx: CallContext, params: dict[str, Any]
) -> dict[str, Any]:
    _caller(ctx, params)
    raise ServiceError(VALIDATION, f"No authentication session {params['SessionId']} in this chat")


HANDLERS: dict[str, Handler] = {
    "CreateParticipantConnection": create_participant_connection,
    "SendMessage": send_message,
    "SendEvent": send_event,
    "GetTranscript": get_transcript,
    "DisconnectParticipant": disconnect_participant,
    "StartAttachmentUpload": start_attachment_upload,
    "CompleteAttachmentUpload": complete_attachment_upload,
    "GetAttachment": get_attachment,
    "DescribeView": describe_view,
    "GetAuthenticationUrl": get_authentication_url,
    "CancelParticipantAuthentication": cancel_participant_authentication,
}
