"""A chat client on /ws/chat/ through Channels' communicator: the real consumer, real Redis
channel layer and the emulator behind it, in the test's own event loop.

Every frame the client receives is checked against the protocol's server-frame schema
(chatbridge.ws.protocol.ServerFrame), strictly: a key the schema does not list, a missing key
or a wrong type fails the test that received it, whatever that test is about.
"""

import json
from collections.abc import Callable
from typing import Any

from channels.testing import WebsocketCommunicator
from pydantic import ValidationError

from chatbridge.asgi import application
from chatbridge.ws.protocol import server_frames

ORIGIN = "http://localhost:8000"
Frame = dict[str, Any]


class ChatClient:
    def __init__(
        self,
        origin: str = ORIGIN,
        *,
        client: tuple[str, int] | None = None,
        forwarded_for: str | None = None,
    ) -> None:
        """`client` is the peer address a server would see, `forwarded_for` an
        X-Forwarded-For header as proxies would send it."""
        headers = [(b"origin", origin.encode())]
        if forwarded_for is not None:
            headers.append((b"x-forwarded-for", forwarded_for.encode()))
        self.communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
        if client is not None:
            self.communicator.scope["client"] = client
        self.frames: list[Frame] = []

    async def connect(self) -> bool:
        connected, _ = await self.communicator.connect(timeout=10)
        return connected

    async def send(self, frame: Frame | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        await self.communicator.send_to(text_data=text)

    async def send_bytes(self, data: bytes) -> None:
        await self.communicator.send_to(bytes_data=data)

    async def send_raw(self, *, text: str | None = None, data: bytes | None = None) -> None:
        """One websocket frame as the server receives it, an empty one too (which the
        communicator's send_to refuses to send)."""
        message: dict[str, Any] = {"type": "websocket.receive"}
        if text is not None:
            message["text"] = text
        else:
            message["bytes"] = data
        await self.communicator.send_input(message)

    async def receive(self, timeout: float = 10) -> Frame:
        text = await self.communicator.receive_from(timeout=timeout)
        frame = json.loads(text)
        self.frames.append(frame)
        assert_server_frame(text)
        return frame

    async def receive_until(self, predicate: Callable[[Frame], bool], timeout: float = 30) -> Frame:
        """Reads frames until one matches; all of them are kept in self.frames."""
        while True:
            frame = await self.receive(timeout=timeout)
            if predicate(frame):
                return frame

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout: float = 30) -> Frame:
        """The first frame ever received that matches, reading on if none has yet. For
        frames that happen once (a given message), whichever frame brought them in."""
        for frame in self.frames:
            if predicate(frame):
                return frame
        return await self.receive_until(predicate, timeout)

    async def auth(self, token: str, after: int = 0, *, early_events: bool = False) -> Frame:
        frame = {"type": "auth", "token": token, "after": after, "ref": "auth"}
        if early_events:
            frame["early_events"] = True
        await self.send(frame)
        return await self.receive_until(lambda f: f["type"] in {"ready", "error"})

    async def request(self, frame: Frame) -> Frame:
        """Sends a frame with a ref and returns the ack or error that answers it (for a send
        that had to wait for Connect's budget, the final ack, not the queued one)."""
        ref = frame.setdefault("ref", f"r{len(self.frames)}-{frame['type']}")
        await self.send(frame)
        return await self.receive_until(
            lambda f: (
                f["type"] in {"ack", "error", "pong"}
                and f.get("ref") == ref
                and f.get("status") != "queued"
            )
        )

    def events(self) -> list[Frame]:
        return [f for f in self.frames if f["type"] == "event"]

    def messages(self, role: str | None = None) -> list[str]:
        return [
            f["event"]["content"]
            for f in self.events()
            if f["event"]["type"] == "message"
            and (role is None or f["event"]["participant_role"] == role)
        ]

    async def closed_with(self, timeout: float = 10) -> int:
        """The close code of the server's close, the next thing it sends."""
        message = await self.communicator.receive_output(timeout=timeout)
        assert message["type"] == "websocket.close", message
        return message["code"]

    async def close(self) -> None:
        """Closes the websocket and waits for its consumer to finish, with a failure guard
        rather than Channels' one-second default, which a busy machine can exceed."""
        await self.communicator.disconnect(timeout=30)


def assert_server_frame(text: str) -> None:
    """Fails unless the text is a frame of the schema, naming the key at fault."""
    try:
        server_frames.validate_json(text)
    except ValidationError as error:
        raise AssertionError(f"the server sent a frame off its schema: {text}\n{error}") from None


async def authenticated_client(
    token: str, *, after: int = 0, connected: bool = False, early_events: bool = False
) -> ChatClient:
    """A client past the start of its conversation: connected, authenticated (ready), with the
    events after `after` and the upstream (or, for an ended chat, ended) frame that follow.
    With `connected`, also once ChatBridge's link to Connect is up, so that what the emulator
    says next reaches the client live."""
    client = ChatClient()
    assert await client.connect()
    ready = await client.auth(token, after=after, early_events=early_events)
    assert ready["type"] == "ready", ready
    await client.receive_until(lambda f: f["type"] in {"upstream", "ended"})
    if connected:
        await client.wait_for(lambda f: f["type"] == "upstream" and f["status"] == "connected")
    return client


def is_agent_message(content: str) -> Callable[[Frame], bool]:
    return lambda f: (
        f["type"] == "event"
        and f["event"]["type"] == "message"
        and f["event"]["participant_role"] == "AGENT"
        and f["event"]["content"] == content
    )
