"""The chat session record, as the store hands it out."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


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

    @property
    def is_active(self) -> bool:
        return self.status is ChatStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class StartedChat:
    """What a client receives when its chat starts: the only time the session token is shown."""

    session: ChatSession
    session_token: str = field(repr=False)
