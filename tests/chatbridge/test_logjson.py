"""LOG_FORMAT=json: one JSON object per line, redacted, naming the chat it is about.

The tests write through the root logger's console handler as settings.LOGGING configured it
(its filters, in their order), with the JSON formatter and a stream of their own.
"""

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from chatbridge.logcontext import bind_chat, chat_context, current_chat_id
from chatbridge.logjson import JsonFormatter
from chatbridge.logredact import REDACTED, RedactingFilter
from tests.chatbridge.test_settings import run_python

TOKEN = "AQIDAHh0cmFuc2NyaXB0LXNlY3JldC10b2tlbi0xMjM0NTY3ODkw"
logger = logging.getLogger("tests.logjson")


def console_handler() -> logging.Handler:
    [handler] = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(found, RedactingFilter) for found in handler.filters)
    ]
    return handler


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the console handler writes, as JSON lines."""
    handler = console_handler()
    stream = io.StringIO()
    previous_stream = handler.setStream(stream)
    previous_formatter = handler.formatter
    handler.setFormatter(import_string(settings.LOGGING["formatters"]["json"]["()"])())
    yield stream
    handler.setFormatter(previous_formatter)
    handler.setStream(previous_stream)


def written(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_time_level_logger_and_message(lines):
    logger.warning("queue %s is %d deep", "webhooks", 3)

    [line] = written(lines)
    assert line["level"] == "WARNING"
    assert line["logger"] == "tests.logjson"
    assert line["message"] == "queue webhooks is 3 deep"
    assert line["timestamp"].endswith("+00:00")
    assert "chat_id" not in line


def test_a_line_logged_inside_a_chats_context_carries_its_chat_id(lines):
    with chat_context("chat-42"):
        logger.warning("sent")
    logger.warning("outside")

    inside, outside = written(lines)
    assert inside["chat_id"] == "chat-42"
    assert "chat_id" not in outside


def test_a_json_line_carries_no_token_in_its_message_or_exception(lines):
    try:
        raise ConnectionError(f"wss://h/connection?X-Amz-Security-Token={TOKEN}")
    except ConnectionError:
        logger.exception("upstream failed with Bearer %s", TOKEN)

    assert TOKEN not in lines.getvalue()
    [line] = written(lines)
    assert line["message"] == f"upstream failed with Bearer {REDACTED}"
    assert "ConnectionError" in line["exception"]
    assert f"wss://h/connection?{REDACTED}" in line["exception"]


def test_the_formatter_writes_a_record_that_no_filter_saw():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "n=%d", (1,), None)

    assert json.loads(JsonFormatter().format(record))["message"] == "n=1"


async def test_a_chat_bound_in_a_task_stays_in_that_task():
    async def in_a_chat() -> str | None:
        bind_chat("chat-7")
        return current_chat_id()

    assert await asyncio.create_task(in_a_chat()) == "chat-7"
    assert current_chat_id() is None


# LOG_FORMAT.

SHOW_CONSOLE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.LOGGING['handlers']['console']['formatter'])"
)


def test_log_format_json_gives_the_console_the_json_formatter():
    result = run_python({"LOG_FORMAT": "json"}, "-c", SHOW_CONSOLE)

    assert result.stdout.strip() == "json", result.stderr


def test_the_console_is_plain_text_by_default():
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "plain"


def test_an_unknown_log_format_stops_start_up():
    result = run_python({"LOG_FORMAT": "xml"}, "-c", SHOW_CONSOLE)

    assert result.returncode != 0
    assert "LOG_FORMAT is plain or json" in result.stderr
