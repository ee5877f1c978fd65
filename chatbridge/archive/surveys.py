"""Storing survey answers with the archived chat, whether or not the archiver got there first.

The customer may answer before the archiver has written the chat (the feed has a backlog, or
the archiver runs elsewhere): the answer then creates the chat's row the way the archiver does
(chatbridge.archive.writer: an insert that ignores a conflict), and the archiver fills in the
rest when it comes. A chat has at most one answer: the table's one-to-one key decides, so two
answers racing each other cannot both be stored.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Q, QuerySet

from chatbridge.archive import redaction
from chatbridge.archive.models import Chat, Survey
from chatbridge.archive.transcript import redacting
from chatbridge.chats.aftercare import SurveyAnswer
from chatbridge.errors import SurveyAlreadyAnswered


def store_answer(chat_id: str, answer: SurveyAnswer) -> Survey:
    """Stores the chat's answer; SurveyAlreadyAnswered if it has one."""
    with transaction.atomic():
        Chat.objects.bulk_create([Chat(chat_id=chat_id)], ignore_conflicts=True)
        chat = Chat.objects.get(chat_id=chat_id)
        try:
            with transaction.atomic():
                return Survey.objects.create(
                    chat=chat, scale=answer.scale, rating=answer.rating, comment=answer.comment
                )
        except IntegrityError:
            raise SurveyAlreadyAnswered() from None


def answer_of(chat_id: str) -> SurveyAnswer | None:
    survey = Survey.objects.filter(chat__chat_id=chat_id).first()
    if survey is None:
        return None
    return SurveyAnswer(scale=survey.scale, rating=survey.rating, comment=survey.comment)


def survey_summary(chat: Chat) -> dict | None:
    """The chat's answer as the viewer and the exports show it; the comment is redacted like
    the transcript's messages (CHATBRIDGE_REDACT_PII)."""
    try:
        survey = chat.survey
    except ObjectDoesNotExist:
        return None
    comment = redaction.redact(survey.comment) if redacting() else survey.comment
    return {
        "scale": survey.scale,
        "rating": survey.rating,
        "label": survey.rating_label,
        "comment": comment,
        "answered_at": survey.created.isoformat().replace("+00:00", "Z"),
    }


def ratings_by(chats: QuerySet[Chat], field: str) -> list[dict]:
    """Per value of `field` (widget_id, agent_name): the stars' average and count, and the
    share of thumbs up and their count. The two scales are never mixed into one number."""
    stars = Q(survey__scale=Survey.Scale.STARS)
    thumbs = Q(survey__scale=Survey.Scale.THUMBS)
    rows = (
        chats.filter(survey__isnull=False)
        .order_by()
        .values(field)
        .annotate(
            stars_average=Avg("survey__rating", filter=stars),
            stars_count=Count("survey", filter=stars),
            thumbs_up_share=Avg("survey__rating", filter=thumbs),
            thumbs_count=Count("survey", filter=thumbs),
        )
        .order_by(field)
    )
    return [
        {
            "key": row[field],
            "stars_average": round(row["stars_average"], 2) if row["stars_count"] else None,
            "stars_count": row["stars_count"],
            "thumbs_up_percent": (
                round(row["thumbs_up_share"] * 100) if row["thumbs_count"] else None
            ),
            "thumbs_count": row["thumbs_count"],
        }
        for row in rows
    ]
