"""Attachments: Connect's pre-signed upload, optionally relayed through ChatBridge.

1. POST .../attachments {name, content_type, size} → Connect's upload URL and headers.
2. PUT the bytes to that URL with those headers, or, where a cross-origin PUT is impossible
   (the web widget), to PUT .../attachments/{id}/content, which relays them.
3. POST .../attachments/{id}/complete: the attachment appears in the chat.
4. GET .../attachments/{id}: a short-lived download URL.
"""

import json
from datetime import UTC, datetime

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from ninja import Path, Router, Status

from chatbridge.api.auth import chat_of, session_auth
from chatbridge.api.common import ERRORS
from chatbridge.api.problems import AttachmentNotFound
from chatbridge.api.schemas import AttachmentIn, AttachmentUploadOut, AttachmentUrlOut, Schema
from chatbridge.chats.crypto import get_token_box
from chatbridge.errors import Conflict, InvalidInput, UpstreamUnavailable
from chatbridge.redis import get_redis, keys
from chatbridge.runtime import get_runtime

router = Router(tags=["attachments"])

CHUNK = 64 * 1024
ATTACHMENT_ID = Path(..., min_length=1, max_length=256)


class AttachmentDoneOut(Schema):
    attachment_id: str
    status: str


def _content_types(widget_id: str) -> dict[str, frozenset[str]]:
    """The widget's allowed extensions, each with the content types it may be declared as.

    An extension the widget lists but no content type is known for is left out: its files
    could be declared as anything, text/html included.
    """
    from webwidget.models import ATTACHMENT_CONTENT_TYPES, DEFAULT_ATTACHMENT_TYPES, Widget

    widget = Widget.objects.filter(widget_id=widget_id).first()
    listed = widget.extensions() if widget is not None else DEFAULT_ATTACHMENT_TYPES.split()
    return {ext: ATTACHMENT_CONTENT_TYPES[ext] for ext in listed if ext in ATTACHMENT_CONTENT_TYPES}


def _upload_key(chat_id: str, attachment_id: str) -> str:
    return keys().chat(chat_id, "upload", attachment_id)


@router.post(
    "/chats/{chat_id}/attachments",
    response={201: AttachmentUploadOut, **ERRORS},
    auth=session_auth,
    summary="Start an attachment upload",
)
async def start_upload(request: HttpRequest, chat_id: str, payload: AttachmentIn):
    session = await chat_of(request, chat_id)
    limit = settings.CHATBRIDGE_API_ATTACHMENT_MAX_BYTES
    if payload.size > limit:
        raise InvalidInput(f"Attachments may be at most {limit} bytes.", field="size")
    extension = payload.name.rsplit(".", 1)[-1].lower() if "." in payload.name else ""
    allowed = await sync_to_async(_content_types)(session.widget_id)
    if extension not in allowed:
        raise InvalidInput(
            f"Files of type .{extension or '?'} may not be sent; allowed: {', '.join(allowed)}.",
            field="name",
        )
    content_type = payload.content_type.strip().lower()
    if content_type not in allowed[extension]:
        raise InvalidInput(
            f"A .{extension} file must be declared as {' or '.join(sorted(allowed[extension]))}.",
            field="content_type",
        )
    upload = await get_runtime().service.start_attachment_upload(
        session, name=payload.name, content_type=content_type, size_bytes=payload.size
    )
    ttl = int((upload.upload_url_expires_at - datetime.now(UTC)).total_seconds())
    record = {"url": upload.upload_url, "headers": upload.headers, "size": payload.size}
    await get_redis().set(
        _upload_key(chat_id, upload.attachment_id),
        get_token_box().seal(json.dumps(record)),
        ex=max(ttl, 1),
    )
    return Status(
        201,
        {
            "attachment_id": upload.attachment_id,
            "upload_url": upload.upload_url,
            "upload_headers": upload.headers,
            "upload_expires_at": upload.upload_url_expires_at,
        },
    )


@router.put(
    "/chats/{chat_id}/attachments/{attachment_id}/content",
    response={200: AttachmentDoneOut, **ERRORS},
    auth=session_auth,
    summary="Upload the attachment's bytes through ChatBridge",
    description="For clients that cannot PUT cross-origin to the upload URL. The body is the "
    "file; its length must be the size declared when the upload started.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def upload_content(request: HttpRequest, chat_id: str, attachment_id: str = ATTACHMENT_ID):
    await chat_of(request, chat_id)
    sealed = await get_redis().get(_upload_key(chat_id, attachment_id))
    if sealed is None:
        raise AttachmentNotFound("No upload of this attachment is pending; it may have expired.")
    record = json.loads(get_token_box().open(sealed))
    size = int(record["size"])
    length = request.headers.get("Content-Length", "")
    if not length.isdigit() or int(length) != size:
        raise InvalidInput(f"The body must be exactly {size} bytes.", field="Content-Length")

    async def body():
        while chunk := request.read(CHUNK):
            yield chunk

    headers = {**record["headers"], "Content-Length": str(size)}
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.put(record["url"], content=body(), headers=headers)
    except httpx.HTTPError:
        raise UpstreamUnavailable("The upload could not reach its storage; retry.") from None
    if answer.status_code >= 500:
        raise UpstreamUnavailable("The upload's storage failed; retry.")
    if answer.status_code >= 400:
        raise Conflict("The upload URL refused the file (expired or already used).")
    return Status(200, {"attachment_id": attachment_id, "status": "uploaded"})


@router.post(
    "/chats/{chat_id}/attachments/{attachment_id}/complete",
    response={200: AttachmentDoneOut, **ERRORS},
    auth=session_auth,
    summary="Complete the upload: the attachment is sent",
)
async def complete_upload(request: HttpRequest, chat_id: str, attachment_id: str = ATTACHMENT_ID):
    session = await chat_of(request, chat_id)
    await get_runtime().service.complete_attachment_upload(session, attachment_id=attachment_id)
    await get_redis().delete(_upload_key(chat_id, attachment_id))
    return Status(200, {"attachment_id": attachment_id, "status": "complete"})


@router.get(
    "/chats/{chat_id}/attachments/{attachment_id}",
    response={200: AttachmentUrlOut, **ERRORS},
    auth=session_auth,
    summary="A short-lived download URL",
)
async def attachment_url(request: HttpRequest, chat_id: str, attachment_id: str = ATTACHMENT_ID):
    session = await chat_of(request, chat_id)
    download = await get_runtime().service.attachment_url(session, attachment_id=attachment_id)
    return Status(200, {"url": download.url, "expires_at": download.url_expires_at})
