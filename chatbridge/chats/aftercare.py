"""What a customer asks for once a chat has ended: a survey answer, a transcript by e-mail.

Both travel on the feed (chatbridge.chats.feed) to the stream workers: the survey answer to the
webhook worker (the archive stores it when it is given), the e-mail request to the transcript
mailer, which waits for the archive to hold the chat before it renders and sends it.
"""

import json
from dataclasses import asdict, dataclass
from typing import Any

SCALES = ("stars", "thumbs")
# The highest rating of each scale; every scale starts at 0 (thumbs down) or 1 (one star).
TOP_RATING = {"stars": 5, "thumbs": 1}
LOWEST_RATING = {"stars": 1, "thumbs": 0}
MAX_COMMENT = 1000
# RFC 5321's limit on a forward path.
MAX_ADDRESS = 254


class MalformedRequest(ValueError):
    """A feed entry's request does not parse; its message never quotes the request."""


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    scale: str
    rating: int
    comment: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> "SurveyAnswer":
        data = _object(raw)
        scale, rating, comment = data.get("scale"), data.get("rating"), data.get("comment", "")
        if scale not in SCALES or not isinstance(rating, int) or not isinstance(comment, str):
            raise MalformedRequest("survey answer has no usable scale, rating or comment")
        if not LOWEST_RATING[scale] <= rating <= TOP_RATING[scale]:
            raise MalformedRequest("survey rating is out of its scale")
        return cls(scale=scale, rating=rating, comment=comment[:MAX_COMMENT])

    def as_payload(self) -> dict[str, Any]:
        """The answer as webhooks and exports show it."""
        return {"scale": self.scale, "rating": self.rating, "comment": self.comment}


@dataclass(frozen=True, slots=True)
class MailRequest:
    """Send the chat's transcript to `to` once the archive holds every event up to `last_seq`.

    `request_id` names the request, so that a send repeated after a crash is recognised.
    """

    request_id: str
    to: str
    last_seq: int
    locale: str = "en"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> "MailRequest":
        data = _object(raw)
        request_id, to = data.get("request_id"), data.get("to")
        last_seq, locale = data.get("last_seq"), data.get("locale", "en")
        if not isinstance(request_id, str) or not request_id or len(request_id) > 64:
            raise MalformedRequest("mail request has no usable id")
        if not isinstance(to, str) or not to or len(to) > MAX_ADDRESS:
            raise MalformedRequest("mail request has no usable address")
        if not isinstance(last_seq, int) or last_seq < 0:
            raise MalformedRequest("mail request has no usable seq")
        if not isinstance(locale, str) or len(locale) > 16:
            raise MalformedRequest("mail request has no usable locale")
        return cls(request_id=request_id, to=to, last_seq=last_seq, locale=locale)


def _object(raw: str | bytes) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        raise MalformedRequest("request is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedRequest("request is not an object")
    return data
