"""A whole chat through `make run`'s stack at LOG_LEVEL=DEBUG, and everything it printed.

`manage.py runstack` (the emulator with its echo agent, and daphne) runs as a child process with
every logger at DEBUG, botocore and daphne included; its standard output and error, the
emulator's and daphne's with them, are kept. A chat goes through all that carries secrets: the
REST start, a message over the client websocket and one over REST, both answered by the echo
agent over Connect's websocket, an attachment uploaded through ChatBridge to its pre-signed URL
and read back, a webhook to a receiver here whose URL holds a key, and the end. Then not one
of the secrets may be in the output: Connect's tokens (read from the chat's session in Redis),
ChatBridge's session and history tokens, the signed URLs' query strings, the webhook's key.
"""

import asyncio
import json
import os
import re
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from cryptography.fernet import Fernet

from chatbridge.chats.crypto import TokenBox
from chatbridge.chats.store import SessionStore
from chatbridge.dev.services import free_port
from chatbridge.logredact import REDACTED

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "logredact"
# Failure guards: each step normally takes well under a second.
STEP = 30.0
ATTACHMENT = b"a note for the agent\n"
# Credential fields as they are logged (header, repr, JSON, parameter) with any value but ours.
UNREDACTED_FIELD = re.compile(
    r"(?<![\w-])(?:X-Amz-Bearer|ParticipantToken|ConnectionToken|X-Amz-Security-Token"
    r"|Authorization|X-Amz-Signature|sig)\\*+[\"']?+\s*+[:=]\s*+(?-i:b)?+\\*+[\"']?+"
    r"(?!\[redacted\]|Bearer \[redacted\])",
    re.IGNORECASE,
)
# The emulator's Connect tokens are 128 URL-safe characters (its websocket tokens 64).
TOKEN_SHAPED = re.compile(r"[A-Za-z0-9_-]{96,}")


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 204 and hands each call to the test."""

    calls: asyncio.Queue[dict] = field(default_factory=asyncio.Queue)

    async def __aenter__(self) -> "Receiver":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hooks"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = re.search(r"(?im)^content-length:\s*(\d+)", head)
        body = await reader.readexactly(int(length[1]) if length else 0)
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        await self.calls.put({"request_line": head.split("\r\n", 1)[0], "body": json.loads(body)})

    async def call_of_type(self, kind: str) -> dict:
        while True:
            call = await asyncio.wait_for(self.calls.get(), STEP)
            if call["body"]["type"] == kind:
                return call


@dataclass
class Stack:
    """`manage.py runstack` as a child, with every line it prints."""

    app: str
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)


async def manage(env: dict[str, str], *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "manage.py", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()


@asynccontextmanager
async def running_stack(env: dict[str, str], app_port: int) -> AsyncIterator[Stack]:
    """Starts runstack, yields once it printed its URLs, and stops it with Ctrl-C's SIGINT;
    the output is complete once the block is left."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "manage.py", "runstack",
        "--port", str(app_port), "--emulator-port", str(free_port()),
        cwd=ROOT, env=env, limit=2**22,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    stack = Stack(app=f"127.0.0.1:{app_port}")
    ready = asyncio.Event()

    async def read() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            stack.lines.append(line.decode(errors="replace"))
            if "Agent console" in stack.lines[-1]:
                ready.set()

    reader = asyncio.create_task(read())
    try:
        await asyncio.wait_for(ready.wait(), 90)
        yield stack
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), STEP)
        except TimeoutError:
            process.kill()
            raise
        finally:
            await asyncio.wait_for(reader, STEP)


@dataclass
class Secrets:
    """Every secret string a chat used; Connect's tokens are read from its session in Redis."""

    store: SessionStore
    values: set[str] = field(default_factory=set)

    async def add_connect_tokens_of(self, chat_id: str) -> None:
        session = await self.store.load(chat_id)
        # Empty until the chat's first connection has come, which a later call then reads.
        self.values |= {
            token for token in (session.participant_token, session.connection_token) if token
        }

    def add_query_of(self, url: str) -> None:
        query = urlsplit(url).query
        assert query, url
        self.values.add(query)
        # Its long values: the signature, a token (expiry times and the like are no secret).
        values = (part.partition("=")[2] for part in query.split("&"))
        self.values |= {value for value in values if len(value) >= 16}


async def wait_for_echo(api: httpx.AsyncClient, chat_id: str, content: str) -> None:
    """Long-polls the chat's events until the agent's echo of `content`."""
    after = 0
    while True:
        response = await api.get(f"/chats/{chat_id}/events", params={"after": after, "wait": 10})
        assert response.status_code == 200, response.text
        events = response.json()["events"]
        assert events, "the long-poll timed out"
        if any(logged["event"]["content"] == f"Echo: {content}" for logged in events):
            return
        after = events[-1]["seq"]


async def chat_over_the_websocket(app: str, session_token: str) -> None:
    """Auth, one message, and its echo by the agent, over /ws/chat/."""
    async with websockets.connect(f"ws://{app}/ws/chat/", origin=f"http://{app}") as socket:
        await socket.send(json.dumps({"type": "auth", "token": session_token, "ref": "a"}))
        async with asyncio.timeout(STEP):
            while json.loads(await socket.recv())["type"] != "ready":
                pass
            await socket.send(json.dumps({"type": "send", "content": "hello", "ref": "s"}))
            while True:
                frame = json.loads(await socket.recv())
                if frame["type"] == "event" and frame["event"]["content"] == "Echo: hello":
                    return


def logged_by(output: str, logger: str) -> bool:
    return re.search(rf" [A-Z]+ {re.escape(logger)}[ .]", output) is not None


@pytest.fixture
def token_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
async def chat_secrets(redis_server, token_key) -> AsyncIterator[Secrets]:
    client = aioredis.Redis.from_url(redis_server.url)
    store = SessionStore(client, TokenBox([token_key.encode()]), prefix=PREFIX, ended_ttl=3600)
    yield Secrets(store, {token_key})
    await client.aclose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


async def chat_through_everything(
    app: str, receiver: Receiver, chat_secrets: Secrets, webhook_key: str
) -> None:
    """Start, websocket and REST messages with their echoes, an attachment, a webhook, the end;
    every secret on the way is added to chat_secrets."""
    async with httpx.AsyncClient(base_url=f"http://{app}/api/v1", timeout=STEP) as api:
        started = await api.post("/chats", json={"widget_id": "default", "display_name": "Ada"})
        assert started.status_code == 201, started.text
        chat = started.json()
        chat_id = chat["chat_id"]
        chat_secrets.values |= {chat["session_token"], chat["history_token"]}
        api.headers["Authorization"] = f"Bearer {chat['session_token']}"
        await chat_secrets.add_connect_tokens_of(chat_id)

        await chat_over_the_websocket(app, chat["session_token"])
        await chat_secrets.add_connect_tokens_of(chat_id)

        sent = await api.post(f"/chats/{chat_id}/messages", json={"content": "by REST"})
        assert sent.status_code == 201, sent.text
        await asyncio.wait_for(wait_for_echo(api, chat_id, "by REST"), STEP)

        declared = {"name": "note.txt", "content_type": "text/plain", "size": len(ATTACHMENT)}
        upload = await api.post(f"/chats/{chat_id}/attachments", json=declared)
        assert upload.status_code == 201, upload.text
        chat_secrets.add_query_of(upload.json()["upload_url"])
        path = f"/chats/{chat_id}/attachments/{upload.json()['attachment_id']}"
        relayed = await api.put(f"{path}/content", content=ATTACHMENT)
        assert relayed.status_code == 200, relayed.text
        assert (await api.post(f"{path}/complete")).status_code == 200
        download = await api.get(path)
        assert download.status_code == 200, download.text
        chat_secrets.add_query_of(download.json()["url"])

        delivered = await receiver.call_of_type("message.created")
        assert f"/hooks?key={webhook_key} " in delivered["request_line"]

        await chat_secrets.add_connect_tokens_of(chat_id)
        assert (await api.post(f"/chats/{chat_id}/end")).status_code == 200
        await receiver.call_of_type("chat.ended")
        await chat_secrets.add_connect_tokens_of(chat_id)


@pytest.mark.timeout(300)
async def test_a_whole_chat_at_debug_logs_no_token_signature_or_signed_query(
    redis_server, token_key, chat_secrets, receiver, tmp_path
):
    app_port = free_port()
    webhook_key = secrets.token_urlsafe(24)
    chat_secrets.values.add(webhook_key)
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="chatbridge.settings",
        DEBUG="1",
        LOG_LEVEL="DEBUG",
        LOG_LEVELS="botocore=DEBUG,daphne=DEBUG",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=redis_server.url,
        CHATBRIDGE_REDIS_PREFIX=PREFIX,
        CHATBRIDGE_TOKEN_KEYS=token_key,
        CHATBRIDGE_ALLOWED_ORIGINS=f"http://127.0.0.1:{app_port}",
        CHATBRIDGE_WEBHOOK_LINGER="0",
        # The receiver listens on loopback, which webhooks may reach only when listed.
        CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS="127.0.0.0/8",
    )
    await manage(env, "migrate", "--noinput", "-v0")
    await manage(
        env, "shell", "-c",
        "from webwidget.models import Widget; w = Widget.objects.get(widget_id='default'); "
        f"w.webhook_url = '{receiver.url}?key={webhook_key}'; w.attachment_types = 'txt'; "
        "w.save()",
    )  # fmt: skip

    async with running_stack(env, app_port) as stack:
        await chat_through_everything(stack.app, receiver, chat_secrets, webhook_key)

    output = stack.output
    # Something was logged, by each library that handles secrets: the test proves something.
    assert " DEBUG " in output, "nothing was logged at DEBUG: the test would prove nothing"
    loggers = ("httpx", "websockets.client", "botocore", "urllib3", "daphne", "daphne.access")
    for logger in (*loggers, "chatbridge"):
        assert logged_by(output, logger), f"{logger} logged nothing"

    leaked = sorted(value for value in chat_secrets.values if value in output)
    assert not leaked, f"secrets in the log: {leaked}"
    assert "X-Amz-Security-Token" not in output
    assert not UNREDACTED_FIELD.findall(output), UNREDACTED_FIELD.findall(output)[:5]
    assert not TOKEN_SHAPED.findall(output), TOKEN_SHAPED.findall(output)[:5]

    # The lines that carried them are there, redacted.
    upload_line = (
        r"httpx HTTP Request: PUT http://127\.0\.0\.1:\d+/_emulator/uploads/\S+\?\[redacted\] "
    )
    assert re.search(upload_line, output), "httpx's line of the upload"
    assert re.search(r"websockets\.client > GET /connection\?\[redacted\] HTTP/1\.1", output)
    assert f"httpx HTTP Request: POST {receiver.url}?{REDACTED} " in output
    # daphne's access log, through logging: no request line bypasses the redaction.
    assert re.search(
        r'daphne\.access \S+ - - \[.+\] "GET /api/v1/chats/\w+/events\?\[redacted\]"', output
    )
    assert not re.search(r"(?m)^[\d.:]+ - - \[", output), "a request line past logging"
