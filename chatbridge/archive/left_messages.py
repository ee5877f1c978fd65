"""Messages customers leave instead of chatting: stored as open requests, e-mailed.

The REST API (chatbridge.api.widgets) records one here, then hands it to webhook delivery;
staff see it in the admin (LeftMessageAdmin) and mark it handled. The e-mail goes through
Django's mail backend (settings EMAIL_*): the console in development, locmem in tests, SMTP in
production. A mail server that fails loses no message: it is stored first, and the failure is
logged.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage

from chatbridge.archive.models import LeftMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NewMessage:
    widget_id: str
    name: str
    email: str
    message: str
    reason: str


def record(new: NewMessage) -> LeftMessage:
    return LeftMessage.objects.create(
        widget_id=new.widget_id,
        name=new.name.strip(),
        email=new.email,
        message=new.message.strip(),
        reason=new.reason,
    )


def payload(left: LeftMessage) -> dict[str, object]:
    """The message as webhooks and the API show it."""
    return {
        "id": left.pk,
        "name": left.name,
        "email": left.email,
        "message": left.message,
        "reason": left.reason,
        "created_at": left.created.isoformat(),
    }


def email(left: LeftMessage, *, to: str, widget_name: str) -> bool:
    """E-mails the message to the widget's notification address; whether it went."""
    subject = f"[{widget_name}] Message from {left.name}"
    body = (
        f"{left.name} <{left.email}> left a message ({left.get_reason_display().lower()}):\n\n"
        f"{left.message}\n\n"
        "Reply to this e-mail to answer them, then mark the message handled in the admin "
        "(Transcript archive → Left messages)."
    )
    try:
        EmailMessage(
            subject=" ".join(subject.split())[:200],
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[to],
            reply_to=[left.email],
        ).send()
    except Exception:
        logger.exception("e-mailing left message %s to widget %s failed", left.pk, left.widget_id)
        return False
    return True
