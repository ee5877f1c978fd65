"""The transcript e-mail: rendered from the archive alone, sent with Django's mail backend.

It holds the conversation's text, names and times, and the names of attachments but never a
link to one (their links are signed and expire) nor any token. Whether the archive holds the
whole chat yet is the caller's question (`archived_up_to`): the mailer waits for it.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from chatbridge.archive import audit
from chatbridge.archive.models import AuditEntry, Chat
from chatbridge.archive.transcript import conversation, redacting
from chatbridge.chats.aftercare import MailRequest

TEXT_TEMPLATE = "archive/mail/transcript.txt"
HTML_TEMPLATE = "archive/mail/transcript.html"
SUBJECT_TEMPLATE = "archive/mail/subject.txt"
# The languages the e-mail is written in (chatbridge/locale), as the widget speaks them.
MAIL_LANGUAGES = ("en", "fr", "ar")


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the archive holds the chat as it was when the customer asked."""

    ready: bool
    reason: str = ""


def archived_up_to(chat_id: str, last_seq: int) -> Readiness:
    chat = Chat.objects.filter(chat_id=chat_id).first()
    if chat is None:
        return Readiness(False, "the chat is not archived yet")
    if chat.status != Chat.Status.ENDED:
        return Readiness(False, "the archive does not know the chat ended yet")
    if last_seq and not chat.events.filter(seq__gte=last_seq).exists():
        return Readiness(False, f"the archive lacks events up to seq {last_seq}")
    return Readiness(True)


def transcript_message(chat_id: str, request: MailRequest) -> EmailMultiAlternatives:
    """The e-mail of the chat's archived transcript, in text and HTML."""
    chat = Chat.objects.get(chat_id=chat_id)
    with translation.override(_language(request.locale)):
        entries = conversation(chat.events.all(), redact=redacting())
        context = {
            "chat": chat,
            "entries": entries,
            "site_name": settings.CHATBRIDGE_MAIL_SITE_NAME,
        }
        subject = " ".join(render_to_string(SUBJECT_TEMPLATE, context).split())
        text = render_to_string(TEXT_TEMPLATE, context)
        html = render_to_string(HTML_TEMPLATE, context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[request.to],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html, "text/html")
    return message


def _language(locale: str) -> str:
    """The language of the e-mail: the widget's (`fr-CA` as `fr`), English when ChatBridge does
    not speak it."""
    base = (locale or "").replace("_", "-").split("-", 1)[0].lower()
    return base if base in MAIL_LANGUAGES else "en"


def send_transcript(chat_id: str, request: MailRequest) -> None:
    """Sends the transcript and records it in the audit log (the address is not recorded:
    the log is read by staff who need not learn it)."""
    transcript_message(chat_id, request).send(fail_silently=False)
    audit.record(None, AuditEntry.Action.MAIL, chat_id=chat_id, detail="to the customer")
