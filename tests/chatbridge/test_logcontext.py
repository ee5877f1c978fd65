"""Which log lines name their chat: those of a client's websocket once it authenticated, of a
REST request for a chat, and of a chat's upstream task; none of another task's.

Each test listens on a ChatBridge logger with the filter settings.LOGGING puts on its handlers
(chatbridge.logcontext.ChatContextFilter) and notes, per record, the task that logged it and
the chat the filter found.
"""

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chatbridge.logcontext import ChatContextFilter
from tests.support.closing import close
from tests.support.ws_client import authenticated_client

pytestmark = pytest.mark.django_db(transaction=True)

# Failure guard only: the line is logged within milliseconds.
GUARD = 30.0


@dataclass(frozen=True)
class Line:
    task: str
    chat_id: str | None
    message: str


class _Listener(logging.Handler):
    def __init__(self, lines: asyncio.Queue[Line]) -> None:
        super().__init__()
        self.lines = lines
        self.addFilter(ChatContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        task = asyncio.current_task()
        line = Line(task.get_name() if task else "", record.chat_id, record.getMessage())
        self.lines.put_nowait(line)


def listen(name: str) -> Iterator[asyncio.Queue[Line]]:
    lines: asyncio.Queue[Line] = asyncio.Queue()
    handler = _Listener(lines)
    logger = logging.getLogger(name)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture
def service_lines() -> Iterator[asyncio.Queue[Line]]:
    yield from listen("chatbridge.chats.service")


@pytest.fixture
def upstream_lines() -> Iterator[asyncio.Queue[Line]]:
    yield from listen("chatbridge.realtime.upstream")


async def next_line(lines: asyncio.Queue[Line], *, containing: str) -> Line:
    async with asyncio.timeout(GUARD):
        while True:
            line = await lines.get()
            if containing in line.message:
                return line


async def test_a_chats_upstream_logs_with_its_chat_id(runtime, emulator, upstream_lines):
    await runtime.supervisor.stop()
    chat = await runtime.service.start_chat(display_name="Ada")
    # Opened by the supervisor's scan, from a task that is about no chat.
    await runtime.supervisor.scan()
    client = await authenticated_client(chat.session_token, connected=True)

    emulator.drop_websockets(chat.session.contact_id)
    line = await next_line(upstream_lines, containing="upstream reconnecting")
    await close(client)

    assert line.task == f"upstream-{chat.session.chat_id}"
    assert line.chat_id == chat.session.chat_id


@pytest.fixture
async def chat_held_elsewhere(runtime):
    """A chat whose upstream another process holds: every Connect call made for it here is
    made by the code under test, not by an upstream in this process."""
    await runtime.supervisor.stop()
    chat = await runtime.service.start_chat(display_name="Ada")
    lease = runtime.supervisor.lease(chat.session.chat_id)
    await runtime.service.store.redis.set(lease.key, "another-process", px=3_600_000)
    return chat


async def test_an_authenticated_websocket_logs_with_its_chat_id(
    chat_held_elsewhere, emulator, service_lines
):
    chat = chat_held_elsewhere
    client = await authenticated_client(chat.session_token)

    emulator.expire_connection_tokens(chat.session.contact_id)
    ack = await client.request({"type": "send", "content": "hello", "client_id": "m1"})
    line = await next_line(service_lines, containing="connection refreshed")
    await close(client)

    assert ack["type"] == "ack"
    assert line.chat_id == chat.session.chat_id


async def test_a_rest_request_for_a_chat_logs_with_its_chat_id(
    api, chat_held_elsewhere, emulator, service_lines
):
    chat = chat_held_elsewhere
    emulator.expire_connection_tokens(chat.session.contact_id)

    response = await api.post(
        f"/chats/{chat.session.chat_id}/messages",
        json={"content": "hello"},
        headers={"Authorization": f"Bearer {chat.session_token}"},
    )
    assert response.status_code == 201, response.text
    line = await next_line(service_lines, containing="connection refreshed")

    assert line.chat_id == chat.session.chat_id


async def test_a_line_of_a_task_that_bound_no_chat_has_none(service_lines):
    logging.getLogger("chatbridge.chats.service").info("nothing to do with a chat")

    line = await next_line(service_lines, containing="nothing to do")

    assert line.chat_id is None
