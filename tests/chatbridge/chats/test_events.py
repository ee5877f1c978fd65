"""Connect's items as ChatBridge's events: what a continued chat carries over is marked as
the earlier conversation, and its end does not end the new chat."""

from chatbridge.chats.events import from_item
from chatbridge.connect.types import ContentType, TranscriptItem


def _item(content_type: str, item_type: str = "EVENT", **extra) -> TranscriptItem:
    return TranscriptItem(
        id="item-1",
        type=item_type,
        absolute_time="2026-01-01T10:00:00.000Z",
        content_type=content_type,
        **extra,
    )


def test_an_item_of_a_past_contact_is_the_earlier_conversation():
    past = from_item(_item(ContentType.TEXT, "MESSAGE", related_contact_id="contact-0"))
    own = from_item(_item(ContentType.TEXT, "MESSAGE", contact_id="contact-1"))

    assert (past.earlier, own.earlier) == (True, False)


def test_the_end_of_the_earlier_conversation_does_not_end_the_chat():
    earlier = from_item(_item(ContentType.CHAT_ENDED, related_contact_id="contact-0"))
    own = from_item(_item(ContentType.CHAT_ENDED, contact_id="contact-1"))

    assert (earlier.ends_chat, own.ends_chat) == (False, True)
