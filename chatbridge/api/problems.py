"""Every REST error as application/problem+json (RFC 9457), mapped here and nowhere else.

Body: ``{type, title, status, detail, code}``, plus ``field`` for a validation error,
``errors`` (every field error) when ninja's validation refused the request, and an error's own
fields (``next_open`` of ``outside_business_hours``). Throttling and
ChatBridge's own limits add a ``Retry-After`` header.
"""

import json
import logging
import math
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse

from chatbridge import errors

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://chatbridge.dev/problems/"


class ApiError(errors.ChatBridgeError):
    """An error that only the REST API raises, with its own HTTP status."""

    status = 400

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ChatNotFound(ApiError):
    """Unknown chat, or a chat that the bearer token does not open: the same answer."""

    code = "unknown_chat"
    status = 404
    default_message = "No such chat."


class NotAuthenticated(ApiError):
    code = "not_authenticated"
    status = 401
    default_message = "Send 'Authorization: Bearer <session token>' for this chat."


class NotACustomer(NotAuthenticated):
    """A customer's own calls (their previous conversations) without a token that proves
    them to the widget."""

    default_message = (
        "Send 'Authorization: Bearer <token>' with the customer token or a signed identity "
        "token for this widget."
    )


class OriginNotAllowed(ApiError):
    code = "origin_not_allowed"
    status = 403
    default_message = "This widget may not be used from this origin."


class IdempotencyConflict(ApiError):
    code = "idempotency_key_reused"
    status = 409
    default_message = "This Idempotency-Key was used for a different request."


class IdempotencyKeyWeak(ApiError):
    """A start's key could be guessed, and with it another customer's chat."""

    code = "idempotency_key_weak"
    status = 422
    default_message = (
        "A chat start's Idempotency-Key must be a random UUID, version 4, in its canonical form "
        "(e.g. from crypto.randomUUID() or uuid.uuid4()): 8-4-4-4-12 hexadecimal digits."
    )


class WidgetNotFound(ApiError):
    code = "unknown_widget"
    status = 404
    default_message = "No enabled widget has this id."


class AttachmentNotFound(ApiError):
    code = "unknown_attachment"
    status = 404
    default_message = "No such attachment in this chat."


# ChatBridge's errors (chatbridge.errors) and their HTTP status.
STATUS_OF: dict[type[errors.ChatBridgeError], int] = {
    errors.InvalidInput: 422,
    errors.UnknownChat: 404,
    errors.ChatEnded: 409,
    errors.AccessDenied: 403,
    errors.Throttled: 429,
    errors.AtCapacity: 503,
    errors.QuotaExceeded: 409,
    errors.Conflict: 409,
    errors.NotFound: 404,
    errors.UpstreamUnavailable: 503,
    errors.RateLimited: 429,
    errors.ChatNotEnded: 409,
    errors.SurveyAlreadyAnswered: 409,
    errors.SurveyOff: 409,
    errors.OutsideBusinessHours: 409,
}


def status_of(error: errors.ChatBridgeError) -> int:
    if isinstance(error, ApiError):
        return error.status
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
        status = getattr(cls, "status", None)
        if isinstance(status, int):
            return status
    return 500


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    retry_after: float | None = None,
    extra: dict | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, object] = {
        "type": TYPE_BASE + code,
        "title": _title(status),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field:
        body["field"] = field
    if extra:
        body.update(extra)
    response = HttpResponse(
        json.dumps(body, separators=(",", ":")), status=status, content_type=PROBLEM_CONTENT_TYPE
    )
    if retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def from_error(error: errors.ChatBridgeError) -> HttpResponse:
    status = status_of(error)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is None and isinstance(error, errors.UpstreamUnavailable):
        retry_after = 1.0
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(
        status,
        error.code,
        error.message,
        field=getattr(error, "field", None),
        retry_after=retry_after,
        extra=error.extra() or None,
        headers=headers,
    )


def from_validation(errors_: list[dict]) -> HttpResponse:
    """ninja's (pydantic's) validation errors: the first field named, all of them listed."""
    listed = []
    for error in errors_:
        loc = [str(part) for part in error.get("loc", ())]
        # ninja prefixes the source ("body", "query", "path", "header") and the parameter name.
        if loc and loc[0] in {"body", "query", "path", "header", "cookie", "form", "file"}:
            loc = loc[1:]
            if len(loc) > 1 and loc[0] in {"payload", "body", "data", "params", "filters"}:
                loc = loc[1:]
        listed.append({"field": ".".join(loc), "message": str(error.get("msg", "invalid"))})
    first = listed[0] if listed else {"field": "", "message": "The request is not valid."}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return problem(
        422, "invalid_input", detail, field=first["field"] or None, extra={"errors": listed}
    )


def for_status(status: int, request: HttpRequest | None = None) -> HttpResponse:
    """A problem for a bare status that Django or ninja answered on their own."""
    if status == 404:
        return problem(404, "not_found", "There is nothing at this address.")
    if status == 405:
        method = request.method if request is not None else "This method"
        return problem(405, "method_not_allowed", f"{method} is not allowed here.")
    if status == 413:
        return problem(413, "too_large", "The request body is too large.")
    if status >= 500:
        return problem(status, "internal_error", errors.ChatBridgeError.default_message)
    return problem(status, "bad_request", _title(status))


def is_problem(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
