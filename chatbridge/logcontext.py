"""The chat a log line is about, carried by the code path rather than by each call.

What runs for one chat (a websocket once its client authenticated, a REST request for a chat,
the chat's upstream task) binds the chat's id in a context variable; asyncio gives every task
a copy of its creator's context, so the id follows the work and stays out of other tasks.
ChatContextFilter, on every handler of settings.LOGGING, puts it on each record as `chat_id`
(None when no chat is bound), where the JSON formatter (chatbridge.logjson) finds it.
"""

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar

_chat_id: ContextVar[str | None] = ContextVar("chatbridge_chat_id", default=None)


def bind_chat(chat_id: str) -> None:
    """Names the chat in every log line of the current task from now on (and of the tasks it
    starts)."""
    _chat_id.set(chat_id)


@contextlib.contextmanager
def chat_context(chat_id: str) -> Iterator[None]:
    """Names the chat in the log lines of the block only."""
    token = _chat_id.set(chat_id)
    try:
        yield
    finally:
        _chat_id.reset(token)


def current_chat_id() -> str | None:
    return _chat_id.get()


class ChatContextFilter(logging.Filter):
    """Sets `record.chat_id` to the bound chat, unless the call gave one (extra=...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "chat_id", None) is None:
            record.chat_id = _chat_id.get()
        return True
