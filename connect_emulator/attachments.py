"""Attachments: the limits Connect applies, and the emulator's stand-in for S3 pre-signed
URLs (``/_emulator/uploads/<id>`` for the PUT, ``/_emulator/attachments/<id>`` for the GET),
signed with a per-process key and refusing requests that lack the signed headers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from . import clock
from .errors import CONFLICT, SERVICE_QUOTA, VALIDATION, ServiceError
from .state import Attachment, Contact, Participant, Store

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
ALLOWED_EXTENSIONS = frozenset(
    {
        *("csv", "doc", "docx", "heic", "jfif", "jpeg", "jpg", "mov", "mp4"),
        *("pdf", "png", "ppt", "pptx", "rtf", "txt", "wav", "xls", "xlsx"),
    }
)
UPLOAD_URL_TTL = 300
DEFAULT_DOWNLOAD_TTL = 300
_KEY = secrets.token_bytes(32)


def _signature(method: str, attachment_id: str, expires: int) -> str:
    message = f"{method}:{attachment_id}:{expires}".encode()
    return hmac.new(_KEY, message, hashlib.sha256).hexdigest()


def _signed_url(base_url: str, kind: str, method: str, attachment_id: str, expires: int) -> str:
    query = urlencode({"expires": expires, "sig": _signature(method, attachment_id, expires)})
    return f"{base_url}/_emulator/{kind}/{quote(attachment_id)}?{query}"


def signed_headers(upload: Attachment) -> dict[str, str]:
    """The headers the PUT must carry, like S3's signed headers."""
    return {"Content-Type": upload.content_type, "x-amz-meta-contact-id": upload.contact_id}


def start_upload(
    store: Store,
    contact: Contact,
    participant: Participant,
    params: dict[str, Any],
    max_attachments: int,
    base_url: str,
) -> dict[str, Any]:
    name: str = params["AttachmentName"]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ALLOWED_EXTENSIONS:
        raise ServiceError(VALIDATION, f"Attachment type .{extension or '?'} is not supported")
    size: int = params["AttachmentSizeInBytes"]
    if size > MAX_ATTACHMENT_BYTES:
        raise ServiceError(VALIDATION, f"Attachments may be at most {MAX_ATTACHMENT_BYTES} bytes")
    if len(contact.attachments) >= max_attachments:
        raise ServiceError(SERVICE_QUOTA, "Too many attachments in this chat")
    upload = Attachment(
        attachment_id=str(uuid.uuid4()),
        contact_id=contact.contact_id,
        participant_id=participant.participant_id,
        name=name,
        content_type=params["ContentType"],
        size=size,
        upload_expires_at=clock.now() + UPLOAD_URL_TTL,
    )
    contact.attachments[upload.attachment_id] = upload
    store.attachments[upload.attachment_id] = upload
    expires = int(upload.upload_expires_at)
    return {
        "AttachmentId": upload.attachment_id,
        "UploadMetadata": {
            "Url": _signed_url(base_url, "uploads", "PUT", upload.attachment_id, expires),
            "UrlExpiry": clock.iso(upload.upload_expires_at),
            "HeadersToInclude": signed_headers(upload),
        },
    }


def uploaded(contact: Contact, participant: Participant, attachment_id: str) -> Attachment:
    """The caller's attachment, ready for CompleteAttachmentUpload."""
    upload = contact.attachments.get(attachment_id)
    if upload is None or upload.participant_id != participant.participant_id:
        raise ServiceError(VALIDATION, f"AttachmentId {attachment_id!r} is not an upload of yours")
    if upload.completed:
        raise ServiceError(CONFLICT, f"Attachment {attachment_id} is already complete")
    if upload.data is None:
        raise ServiceError(CONFLICT, f"Attachment {attachment_id} is still being uploaded")
    return upload


def download(contact: Contact, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    upload = contact.attachments.get(params["AttachmentId"])
    if upload is None or not upload.completed:
        raise ServiceError(VALIDATION, "AttachmentId does not name an attachment of this chat")
    ttl = params.get("UrlExpiryInSeconds") or DEFAULT_DOWNLOAD_TTL
    expires_at = clock.now() + ttl
    url = _signed_url(base_url, "attachments", "GET", upload.attachment_id, int(expires_at))
    if params.get("UrlContentDisposition") == "INLINE":
        url += "&disposition=inline"
    return {"Url": url, "UrlExpiry": clock.iso(expires_at), "AttachmentSizeInBytes": upload.size}


def _s3_error(status: int, code: str, message: str) -> Response:
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")


def _verify(request: Request, method: str, store: Store) -> Attachment | Response:
    attachment_id = request.path_params["attachment_id"]
    upload = store.attachments.get(attachment_id)
    try:
        expires = int(request.query_params.get("expires", ""))
    except ValueError:
        expires = 0
    expected = _signature(method, attachment_id, expires)
    if upload is None or not hmac.compare_digest(request.query_params.get("sig", ""), expected):
        return _s3_error(403, "SignatureDoesNotMatch", "The request signature is not valid")
    if clock.now() > expires:
        return _s3_error(403, "AccessDenied", "Request has expired")
    return upload


async def upload_endpoint(request: Request) -> Response:
    """PUT of the file bytes to the URL StartAttachmentUpload gave."""
    store: Store = request.app.state.emulator.store
    upload = _verify(request, "PUT", store)
    if isinstance(upload, Response):
        return upload
    if upload.completed:
        return _s3_error(403, "AccessDenied", "The upload is already complete")
    for header, value in signed_headers(upload).items():
        if request.headers.get(header) != value:
            return _s3_error(403, "SignatureDoesNotMatch", f"Missing signed header {header}")
    body = await request.body()
    if len(body) != upload.size:
        return _s3_error(400, "IncompleteBody", f"Expected {upload.size} bytes, got {len(body)}")
    upload.data = body
    return Response(status_code=200, headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})


async def download_endpoint(request: Request) -> Response:
    """GET of a completed attachment through the URL GetAttachment gave."""
    store: Store = request.app.state.emulator.store
    upload = _verify(request, "GET", store)
    if isinstance(upload, Response):
        return upload
    disposition = "inline" if request.query_params.get("disposition") == "inline" else "attachment"
    return Response(
        upload.data or b"",
        media_type=upload.content_type,
        headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(upload.name)}"},
    )
