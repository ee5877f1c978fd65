"""A widget's public configuration (with whether it is open now), for native apps that build
their own pre-chat form, and the messages customers leave when it is closed or at capacity."""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from ninja import Path, Router, Status

from chatbridge.api import limits
from chatbridge.api.common import ERRORS
from chatbridge.api.cors import is_own_origin
from chatbridge.api.problems import OriginNotAllowed, WidgetNotFound
from chatbridge.api.schemas import LeaveMessageIn, LeftMessageOut, WidgetConfigOut
from chatbridge.archive import left_messages
from chatbridge.redis import get_redis
from chatbridge.streams.webhooks import schedule_left_message

router = Router(tags=["widgets"])

WidgetId = Path(..., max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")


def _widget(widget_id: str):
    from webwidget.lookup import enabled_widget

    return enabled_widget(widget_id)


def _config(widget_id: str) -> dict | None:
    widget = _widget(widget_id)
    return widget.public_config() if widget is not None else None


@router.get(
    "/widgets/{widget_id}/config",
    response={200: WidgetConfigOut, **ERRORS},
    auth=None,
    summary="A widget's public configuration (no authentication)",
    description="Its look, pre-chat fields and attachment types, and `availability`: whether "
    "it takes chats now (business hours and holidays) and when that changes.",
)
async def widget_config(request: HttpRequest, widget_id: str = WidgetId):
    config = await sync_to_async(_config)(widget_id)
    if config is None:
        raise WidgetNotFound()
    return config


def _leave(widget, payload: LeaveMessageIn, reason: str) -> dict:
    left = left_messages.record(
        left_messages.NewMessage(
            widget_id=widget.widget_id,
            name=payload.name,
            email=payload.email,
            message=payload.message,
            reason=reason,
        )
    )
    if widget.notification_email:
        left_messages.email(left, to=widget.notification_email, widget_name=widget.name)
    return left_messages.payload(left)


@router.post(
    "/widgets/{widget_id}/messages",
    response={201: LeftMessageOut, **ERRORS},
    auth=None,
    summary="Leave a message (when the widget is closed or at capacity)",
    description="Stores the message as an open request for staff, sends the widget's webhook "
    "`message.left` and, when the widget has a notification address, an e-mail. Limited per "
    "client address and per e-mail address (`CHATBRIDGE_LEFT_MESSAGES_PER_HOUR`); from a "
    "browser, only the widget's allowed origins may send it.",
)
async def leave_message(request: HttpRequest, payload: LeaveMessageIn, widget_id: str = WidgetId):
    widget = await sync_to_async(_widget)(widget_id)
    if widget is None:
        raise WidgetNotFound()
    origin = request.headers.get("Origin")
    if origin and not is_own_origin(request, origin) and not widget.allows_origin(origin):
        raise OriginNotAllowed()
    await limits.left_messages(request, payload.email)
    reason = payload.reason or ("other" if widget.availability().open else "outside_business_hours")
    message = await sync_to_async(_leave)(widget, payload, reason)
    if widget.webhook_url:
        await schedule_left_message(
            get_redis(),
            prefix=settings.CHATBRIDGE_REDIS_PREFIX,
            widget_id=widget.widget_id,
            message=message,
        )
    return Status(
        201,
        {
            "id": message["id"],
            "status": "open",
            "reason": reason,
            "created_at": message["created_at"],
        },
    )
