"""After a chat has ended: the customer's survey answer, and the transcript by e-mail.

Both need the chat's session token and an ended chat. The session token outlives the chat by
CHATBRIDGE_ENDED_SESSION_TTL, which is how long the customer has to answer or ask.
"""

import hashlib
import uuid

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from ninja import Router, Status

from chatbridge.api.auth import chat_of, session_auth
from chatbridge.api.common import ERRORS
from chatbridge.api.schemas import MailQueuedOut, SurveyIn, SurveyOut, TranscriptMailIn
from chatbridge.archive.surveys import store_answer
from chatbridge.chats.aftercare import LOWEST_RATING, TOP_RATING, MailRequest, SurveyAnswer
from chatbridge.chats.feed import publish_mail_request, publish_survey
from chatbridge.chats.records import ChatSession
from chatbridge.errors import ChatNotEnded, InvalidInput, SurveyOff
from chatbridge.ratelimit import RedisWindow, hit_chat_window
from chatbridge.redis import get_redis, keys
from chatbridge.runtime import get_runtime

router = Router(tags=["after the chat"])

MAIL_CHAT_WINDOW = 3600
MAIL_ADDRESS_WINDOW = 24 * 3600


def _survey_scale(widget_id: str) -> str:
    """Read now, not from the lookup's cache: the widget's page shows the scale as saved, and
    an answer is given once per chat, so the query is cheap."""
    from webwidget.models import Widget

    scale = (
        Widget.objects.filter(widget_id=widget_id, enabled=True)
        .values_list("survey_scale", flat=True)
        .first()
    )
    return scale or "off"


def _ended(session: ChatSession) -> None:
    if session.is_active:
        raise ChatNotEnded()


@router.post(
    "/chats/{chat_id}/survey",
    response={201: SurveyOut, **ERRORS},
    auth=session_auth,
    summary="Answer the post-chat survey (once per chat)",
    description="On the widget's scale (`survey_scale` of its configuration): 1 to 5 stars, "
    "or 0 (thumbs down) and 1 (thumbs up), with an optional comment. Only after the chat "
    "ended (409 `chat_not_ended`), once (409 `survey_already_answered`), and only when the "
    "widget asks a survey (409 `survey_off`).",
)
async def answer_survey(request: HttpRequest, chat_id: str, payload: SurveyIn):
    session = await chat_of(request, chat_id)
    _ended(session)
    scale = await sync_to_async(_survey_scale)(session.widget_id)
    if scale == "off":
        raise SurveyOff()
    if not LOWEST_RATING[scale] <= payload.rating <= TOP_RATING[scale]:
        raise InvalidInput(
            f"On the {scale} scale a rating is {LOWEST_RATING[scale]} to {TOP_RATING[scale]}.",
            field="rating",
        )
    answer = SurveyAnswer(scale=scale, rating=payload.rating, comment=payload.comment.strip())
    await sync_to_async(store_answer)(chat_id, answer)
    await publish_survey(get_redis(), chat_id, session.widget_id, answer, feed=keys().feed)
    return Status(201, answer.as_payload())


@router.post(
    "/chats/{chat_id}/transcript-email",
    response={202: MailQueuedOut, **ERRORS},
    auth=session_auth,
    summary="E-mail the chat's transcript to the customer",
    description="Queued, then sent from the archive once it holds the whole chat. Only after "
    "the chat ended (409 `chat_not_ended`); at most CHATBRIDGE_TRANSCRIPT_MAILS_PER_CHAT per "
    "chat and hour and CHATBRIDGE_TRANSCRIPT_MAILS_PER_ADDRESS per address and day (429 "
    "`rate_limited`).",
)
async def mail_transcript(request: HttpRequest, chat_id: str, payload: TranscriptMailIn):
    session = await chat_of(request, chat_id)
    _ended(session)
    address = payload.email.strip()
    try:
        validate_email(address)
    except ValidationError:
        raise InvalidInput("Enter a valid e-mail address.", field="email") from None
    await hit_chat_window(
        chat_id,
        "mail",
        limit=settings.CHATBRIDGE_TRANSCRIPT_MAILS_PER_CHAT,
        window=MAIL_CHAT_WINDOW,
    )
    digest = hashlib.sha256(address.lower().encode()).hexdigest()
    await RedisWindow(
        get_redis(),
        limit=settings.CHATBRIDGE_TRANSCRIPT_MAILS_PER_ADDRESS,
        window=MAIL_ADDRESS_WINDOW,
        kind="mail_address",
    ).hit(keys().mail_address_limit(digest))
    cursor = await get_runtime().log.cursor(chat_id)
    mail = MailRequest(
        request_id=uuid.uuid4().hex,
        to=address,
        last_seq=cursor.last_seq,
        locale=payload.locale,
    )
    await publish_mail_request(get_redis(), chat_id, mail, feed=keys().feed)
    return Status(202, {"queued": True})
