"""The chat session record, as the store hands it out."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from chatbridge.chats.events import ChatEvent


class ChatStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class ChatSession:
    """A chat as ChatBridge knows it. Connect's tokens are decrypted only in memory.

    `generation` counts connection refreshes, so concurrent refreshers can tell whether
    somebody else already replaced the token they saw fail.
    """

    chat_id: str
    contact_id: str
    participant_id: str
    participant_token: str = field(repr=False)
    connection_token: str = field(repr=False)
    connection_expires_at: datetime
    generation: int
    status: ChatStatus
    display_name: str
    widget_id: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    ended_reason: str = ""
    # The Connect instance and region the chat runs in ("": the settings'); every participant
    # call of the chat goes to that region.
    instance_id: str = ""
    region: str = ""
    # Who the customer is, within the widget ("sub:<identity sub>" or "browser:<key>"), and
    # the chat this one continues: what continuity and the previous conversations read.
    customer_key: str = ""
    continued_from: str = ""

    @property
    def is_active(self) -> bool:
        return self.status is ChatStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class StartedChat:
    """What a client receives when its chat starts: the only time the session token is shown."""

    session: ChatSession
    session_token: str = field(repr=False)
    # The earlier conversation a continued chat carries over, for the event log to hold first.
    earlier: tuple[ChatEvent, ...] = ()
    # Whether storing the chat claimed the lease on its upstream for the caller's process.
    leased: bool = False
    # False for a retried start: the chat was stored by the first.
    created: bool = True


@dataclass(frozen=True, slots=True)
class UpstreamClaim:
    """The process that will hold a new chat's upstream (chatbridge.realtime.supervisor): the
    lease is claimed for `owner` as the chat is stored, in the same round trip, and `hold`
    opens the upstream at once, with nothing awaited in between."""

    owner: str
    ttl_ms: int
    hold: Callable[[str], object]


@dataclass(frozen=True, slots=True)
class PreviousChat:
    """The customer's last chat, which a new one continues: found by ChatBridge among the
    chats the customer owns, never named by a client."""

    chat_id: str
    contact_id: str
