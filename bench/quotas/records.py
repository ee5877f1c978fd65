"""What each simulated customer saw, as plain dataclasses that cross process boundaries.

A load generator process returns a list of CustomerRecord as dicts (asdict); the analysis
rebuilds them with from_dict.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

# A message's outcome as the client knows it.
PENDING = "pending"  # sent, nothing heard back yet
SENT = "sent"  # acknowledged as sent to Connect
# An ack carrying another status (e.g. "queued") is kept under that status until a later
# frame says "sent"; an error frame makes it "error:<code>".


@dataclass
class StartAttempt:
    """One POST /api/v1/chats."""

    requested_at: float
    answered_at: float
    status: int  # HTTP status, 0 when no answer came
    code: str = ""  # the problem's code, or the exception's name


@dataclass
class MessageRecord:
    sent_at: float
    outcome: str = PENDING
    acked_at: float | None = None
    own_seen: int = 0  # the customer's own message as an event frame
    echo_seen: int = 0  # the agent's "Echo: …" as an event frame
    echo_event_id: str = ""
    # The chat's typing frame just before it was still unanswered when it was sent: frames of
    # one websocket are handled in turn, so the message waited for it.
    behind_typing: bool = False


@dataclass
class CustomerRecord:
    index: int
    display_name: str
    burst: bool
    starts: list[StartAttempt] = field(default_factory=list)
    chat_id: str = ""
    participant_id: str = ""
    ready_at: float | None = None
    upstream_at: float | None = None
    messages: dict[str, MessageRecord] = field(default_factory=dict)
    # One outcome per typing frame: "sent", "skipped" (ack sent: false), "error:<code>", PENDING
    typing: list[str] = field(default_factory=list)
    typing_answer_s: list[float] = field(default_factory=list)  # typing frame → its answer
    # Read receipts, by the message id of the echo they read: "acked", "error:<code>", PENDING
    receipts: dict[str, str] = field(default_factory=dict)
    # Error frames without a ref (a receipt batch failing later), by code
    async_errors: dict[str, int] = field(default_factory=dict)
    duplicate_events: int = 0  # event frames whose event id was seen before
    closed: str = ""  # why the websocket closed before the end, if it did

    @property
    def started(self) -> bool:
        return bool(self.chat_id)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CustomerRecord":
        data = dict(data)
        data["starts"] = [StartAttempt(**attempt) for attempt in data["starts"]]
        data["messages"] = {
            mid: MessageRecord(**message) for mid, message in data["messages"].items()
        }
        return cls(**data)
