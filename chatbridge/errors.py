"""ChatBridge's error hierarchy.

Everything below the entry points raises these and nothing else: botocore errors are mapped
to them once, in chatbridge.connect.errors, and each entry point (REST, websocket) maps them
once more to its own wire shape. Messages are written for the client and never carry a
Connect token.
"""


class ChatBridgeError(Exception):
    """Base of every error a client may be told about."""

    code = "internal_error"
    default_message = "Something went wrong in ChatBridge."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, **self.extra()}

    def extra(self) -> dict[str, object]:
        """Fields of this error beyond code and message, for every entry point's answer."""
        return {}


class InvalidInput(ChatBridgeError):
    code = "invalid_input"
    default_message = "The request is not valid."

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def as_dict(self) -> dict[str, object]:
        data = super().as_dict()
        if self.field:
            data["field"] = self.field
        return data


class UnknownChat(ChatBridgeError):
    """The session token opens no chat: never issued, revoked or expired."""

    code = "unknown_chat"
    default_message = "No chat belongs to this session token; it may have expired."


class ChatEnded(ChatBridgeError):
    code = "chat_ended"
    default_message = "This chat has ended."


class AccessDenied(ChatBridgeError):
    """Connect refused the participant's credentials.

    The chat service answers it by refreshing the connection once; only if that is refused
    too does the chat count as ended.
    """

    code = "access_denied"
    default_message = "Amazon Connect refused the participant's credentials."


class Throttled(ChatBridgeError):
    """No Connect call could be made in time: the shared Connect budget
    (chatbridge.connect.budget) had no token within CHATBRIDGE_CONNECT_MAX_WAIT, or Connect
    kept throttling until then."""

    code = "throttled"
    default_message = "Amazon Connect is throttling requests; retry shortly."

    def __init__(self, message: str | None = None, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AtCapacity(ChatBridgeError):
    """Amazon Connect holds as many active chats as the instance allows (its concurrent
    chats quota): no chat can start until one ends. Not a throttle: retrying at once does
    not help."""

    code = "at_capacity"
    default_message = "All chat lines are busy right now; try again in a few minutes."

    def __init__(self, message: str | None = None, *, retry_after: float = 60.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Dropped(ChatBridgeError):
    """Best-effort work (typing) for which the shared Connect budget had no token free. Never
    told to a client: the caller treats it as "not sent"."""

    code = "dropped"
    default_message = "Not sent: Amazon Connect's rate is used up."


class QuotaExceeded(ChatBridgeError):
    code = "quota_exceeded"
    default_message = "A limit of this chat has been reached."


class Conflict(ChatBridgeError):
    code = "conflict"
    default_message = "The request conflicts with the chat's current state."


class NotFound(ChatBridgeError):
    code = "not_found"
    default_message = "Amazon Connect has no such resource."


class UnknownMessage(NotFound):
    """A receipt names no message of the chat's log: made up, another chat's, or not a
    message (an event or a receipt). Refused before it costs a Connect call or a key."""

    code = "unknown_message"
    default_message = "This chat has no message with this id."
    field = "message_id"

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "field": self.field}


class UpstreamUnavailable(ChatBridgeError):
    """Connect failed or could not be reached after botocore's retries."""

    code = "upstream_unavailable"
    default_message = "Amazon Connect is unavailable right now; retry shortly."


class ChatNotEnded(ChatBridgeError):
    """What is offered once a chat has ended (survey, transcript by e-mail) was asked before."""

    code = "chat_not_ended"
    default_message = "This is possible only once the chat has ended."


class SurveyAlreadyAnswered(ChatBridgeError):
    code = "survey_already_answered"
    default_message = "This chat's survey has already been answered."


class SurveyOff(ChatBridgeError):
    code = "survey_off"
    default_message = "This chat's widget asks no survey."


class RateLimited(ChatBridgeError):
    """ChatBridge's own limits (per connection, per chat, per address) were exceeded."""

    code = "rate_limited"
    default_message = "Too many requests; slow down."

    def __init__(self, message: str | None = None, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyConnections(RateLimited):
    """A chat or a client address already has as many live connections as it may."""

    code = "too_many_connections"
    default_message = "Too many live connections; close one and retry."


class OutsideBusinessHours(ChatBridgeError):
    """The widget is closed now (its business hours or a holiday): no chat starts. `next_open`
    (ISO 8601, UTC, or None when no opening is scheduled) says when to come back."""

    code = "outside_business_hours"
    default_message = "We are closed right now; leave a message or come back when we are open."

    def __init__(self, message: str | None = None, *, next_open: str | None = None) -> None:
        super().__init__(message)
        self.next_open = next_open

    def extra(self) -> dict[str, object]:
        return {"next_open": self.next_open}
