"""The feed: one Redis stream of every chat's logged events and session changes.

The stream workers (the SQL archive, webhook delivery) follow it off the chat's hot path. Two
kinds of entry share it (``RedisKeys.feed``), so that a follower sees a chat's metadata and
events in the order they were written:

- an event: fields ``chat``, ``seq`` and ``e`` (a `ChatEvent` as JSON), added by the event
  log's append script (chatbridge.realtime.eventlog) in the same step that logs it;
- chat metadata: fields ``chat`` and ``meta`` (a `ChatMeta` as JSON), added by `publish_chat`
  when a chat starts and when it ends;
- a survey answer: fields ``chat``, ``widget`` and ``survey`` (a `SurveyAnswer` as JSON),
  added by `publish_survey` once the archive stored it;
- a transcript e-mail request: fields ``chat`` and ``mail`` (a `MailRequest` as JSON), added by
  `publish_mail_request`.

Anything else is malformed. Parsing clips text to the archive's column sizes and drops NUL
characters (which PostgreSQL refuses), so a well-formed entry can always be written: a row the
database rejects would otherwise be retried forever.
"""

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from chatbridge.chats.aftercare import MailRequest, MalformedRequest, SurveyAnswer
from chatbridge.chats.events import ChatEvent
from chatbridge.chats.records import ChatSession, ChatStatus

Fields = dict[bytes | str, bytes | str]

# The feed is trimmed (approximately) to this many entries: a bound on Redis memory should
# every follower stop. A follower that falls this far behind loses the oldest entries.
FEED_MAXLEN = 1_000_000
# Longest ids an entry may carry; the archive's columns are sized to match.
ID_LENGTH = 256
CHAT_ID_LENGTH = 64
CUSTOMER_KEY_LENGTH = 300


class MalformedEntry(ValueError):
    """An entry the archive cannot use. Its message never contains the entry's content."""


@dataclass(frozen=True, slots=True)
class ChatMeta:
    """What the archive keeps of a chat's session: no tokens."""

    contact_id: str
    participant_id: str
    display_name: str
    widget_id: str
    status: str
    created_at: datetime | None
    ended_at: datetime | None
    ended_reason: str
    customer_key: str = ""
    continued_from: str = ""
    instance_id: str = ""
    region: str = ""

    @classmethod
    def from_session(cls, session: ChatSession) -> "ChatMeta":
        return cls(
            contact_id=session.contact_id,
            participant_id=session.participant_id,
            display_name=session.display_name,
            widget_id=session.widget_id,
            status=str(session.status),
            created_at=session.created_at,
            ended_at=session.ended_at,
            ended_reason=session.ended_reason,
            customer_key=session.customer_key,
            continued_from=session.continued_from,
            instance_id=session.instance_id,
            region=session.region,
        )

    def to_json(self) -> str:
        data = asdict(self)
        data["created_at"] = _iso(self.created_at)
        data["ended_at"] = _iso(self.ended_at)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> "ChatMeta":
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise MalformedEntry("meta is not an object")
        status = data.get("status")
        if status not in {s.value for s in ChatStatus}:
            raise MalformedEntry("meta has an unknown status")
        return cls(
            contact_id=clean(data.get("contact_id"), ID_LENGTH),
            participant_id=clean(data.get("participant_id"), ID_LENGTH),
            display_name=clean(data.get("display_name"), 256),
            widget_id=clean(data.get("widget_id"), 128),
            status=status,
            created_at=parse_time(data.get("created_at")),
            ended_at=parse_time(data.get("ended_at")),
            ended_reason=clean(data.get("ended_reason"), 128),
            customer_key=clean(data.get("customer_key"), CUSTOMER_KEY_LENGTH),
            continued_from=clean(data.get("continued_from"), CHAT_ID_LENGTH),
            instance_id=clean(data.get("instance_id"), ID_LENGTH),
            region=clean(data.get("region"), 32),
        )


@dataclass(frozen=True, slots=True)
class EventEntry:
    entry_id: str
    chat_id: str
    seq: int
    event: ChatEvent


@dataclass(frozen=True, slots=True)
class MetaEntry:
    entry_id: str
    chat_id: str
    meta: ChatMeta


@dataclass(frozen=True, slots=True)
class SurveyEntry:
    entry_id: str
    chat_id: str
    answer: SurveyAnswer
    widget_id: str = ""


@dataclass(frozen=True, slots=True)
class MailEntry:
    entry_id: str
    chat_id: str
    request: MailRequest


Entry = EventEntry | MetaEntry | SurveyEntry | MailEntry


def parse_entry(entry_id: bytes | str, fields: Fields | None) -> Entry:
    """The entry of a stream record; MalformedEntry if it is neither kind."""
    try:
        return _parse(_text(entry_id), fields)
    except MalformedEntry:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        # The class name only: the message may quote the entry's content.
        raise MalformedEntry(f"entry does not parse ({type(exc).__name__})") from None


def _parse(entry_id: str, fields: Fields | None) -> Entry:
    if not fields:
        raise MalformedEntry("entry has no fields (trimmed or empty)")
    data = {_text(name): value for name, value in fields.items()}
    chat_id = _text(data.get("chat", b""))
    if not chat_id or len(chat_id) > CHAT_ID_LENGTH:
        raise MalformedEntry("entry has no usable chat id")
    if "e" in data:
        seq = _seq(data.get("seq"))
        return EventEntry(entry_id=entry_id, chat_id=chat_id, seq=seq, event=_event(data["e"]))
    if "meta" in data:
        return MetaEntry(entry_id=entry_id, chat_id=chat_id, meta=ChatMeta.from_json(data["meta"]))
    try:
        if "survey" in data:
            answer = SurveyAnswer.from_json(data["survey"])
            widget_id = clean(_text(data.get("widget", b"")), 128)
            return SurveyEntry(
                entry_id=entry_id, chat_id=chat_id, answer=answer, widget_id=widget_id
            )
        if "mail" in data:
            request = MailRequest.from_json(data["mail"])
            return MailEntry(entry_id=entry_id, chat_id=chat_id, request=request)
    except MalformedRequest as exc:
        raise MalformedEntry(str(exc)) from None
    raise MalformedEntry("entry is neither an event, chat metadata nor a request")


def _event(raw: bytes | str) -> ChatEvent:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise MalformedEntry("event is not an object")
    event = ChatEvent(**data)
    if not isinstance(event.id, str) or not event.id or len(event.id) > ID_LENGTH:
        raise MalformedEntry("event has no usable id")
    if not isinstance(event.type, str) or not event.type:
        raise MalformedEntry("event has no type")
    if event.content is not None and not isinstance(event.content, str):
        raise MalformedEntry("event content is not text")
    if not isinstance(event.attachments, list) or not isinstance(event.receipts, list):
        raise MalformedEntry("event attachments or receipts are not lists")
    return event


def _seq(raw: bytes | str | None) -> int:
    seq = int(_text(raw or b""))
    if seq < 1 or seq > 2**31 - 1:
        raise MalformedEntry("event seq is out of range")
    return seq


def clean(value: Any, max_length: int | None = None) -> str:
    """Text fit for a column: a string, without NUL characters, at most max_length long."""
    if value is None:
        return ""
    text = str(value).replace("\x00", "")
    return text[:max_length] if max_length is not None else text


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (Connect writes e.g. 2019-11-08T02:41:28.172Z); None if it isn't one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # ChatBridge and Connect write UTC; a time without an offset is taken as UTC too.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def publish_chat(redis: aioredis.Redis, session: ChatSession, *, feed: str) -> None:
    """Adds the chat's current metadata to the feed; called when it starts and when it ends."""
    await redis.xadd(
        feed,
        {"chat": session.chat_id, "meta": ChatMeta.from_session(session).to_json()},
        maxlen=FEED_MAXLEN,
        approximate=True,
    )


async def publish_survey(
    redis: aioredis.Redis, chat_id: str, widget_id: str, answer: SurveyAnswer, *, feed: str
) -> None:
    """Adds a survey answer to the feed, for the webhook worker."""
    await redis.xadd(
        feed,
        {"chat": chat_id, "widget": widget_id, "survey": answer.to_json()},
        maxlen=FEED_MAXLEN,
        approximate=True,
    )


async def publish_mail_request(
    redis: aioredis.Redis, chat_id: str, request: MailRequest, *, feed: str
) -> None:
    """Adds a transcript e-mail request to the feed, for the transcript mailer."""
    await redis.xadd(
        feed, {"chat": chat_id, "mail": request.to_json()}, maxlen=FEED_MAXLEN, approximate=True
    )
