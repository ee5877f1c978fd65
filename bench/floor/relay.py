"""A bare relay: the least any backend on ChatBridge's stack does to pass a chat through.

Served by the same server as ChatBridge (`python -m chatbridge.serve`: daphne on uvloop), it
speaks a raw ASGI websocket to the browser, calls SendMessage with the same boto3 client as
ChatBridge's (unsigned, on a thread), and holds the chat's Connect websocket with the same
`websockets` client. Nothing else: no Django, no Channels, no Redis, no event log, no budget,
no limits. What ChatBridge adds on top of it is the cost of the rules it keeps; what it costs
over the direct path is the cost of the hop itself (bench.floor measures both).

Not a product: no authentication, no validation, no rules.

- `POST /start` with `{"instance_id", "contact_flow_id", "display_name"}` starts a chat as
  ChatBridge's start does (StartChatContact, then the participant's
  CreateParticipantConnection, both on one thread) and answers the chat's Connect websocket
  and connection token, `{"url": ..., "token": ...}`.
- A websocket's first frame is that answer; the relay answers `ready` once subscribed. Each
  later frame `{"content": ...}` is sent as a message; every frame from Connect goes to the
  client as it came.
"""

import asyncio
import contextlib
import functools
import json
import os
from typing import Any

import boto3
import websockets
from botocore import UNSIGNED
from botocore.config import Config

SUBSCRIBE = json.dumps({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}})
HEARTBEAT = json.dumps({"topic": "aws/heartbeat"})
HEARTBEAT_INTERVAL = 10.0
REGION = os.environ.get("CONNECT_REGION", "us-east-1")


@functools.cache
def participant_client() -> Any:
    return boto3.session.Session().client(
        "connectparticipant",
        endpoint_url=os.environ["CONNECT_PARTICIPANT_ENDPOINT_URL"],
        config=Config(region_name=REGION, signature_version=UNSIGNED, max_pool_connections=32),
    )


@functools.cache
def connect_client() -> Any:
    return boto3.session.Session().client(
        "connect",
        endpoint_url=os.environ["CONNECT_ENDPOINT_URL"],
        config=Config(region_name=REGION, max_pool_connections=32),
    )


def start_chat(request: dict[str, str]) -> dict[str, str]:
    """On a thread: both calls of a chat's start, as ChatBridge makes them."""
    contact = connect_client().start_chat_contact(
        InstanceId=request["instance_id"],
        ContactFlowId=request["contact_flow_id"],
        ParticipantDetails={"DisplayName": request["display_name"]},
    )
    connection = participant_client().create_participant_connection(
        ParticipantToken=contact["ParticipantToken"],
        Type=["WEBSOCKET", "CONNECTION_CREDENTIALS"],
        ConnectParticipant=True,
    )
    return {
        "url": connection["Websocket"]["Url"],
        "token": connection["ConnectionCredentials"]["ConnectionToken"],
    }


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "http":
        await _serve_start(receive, send)
        return
    if scope["type"] != "websocket" or (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    first = await receive()
    if first["type"] != "websocket.receive":
        return
    chat = json.loads(first["text"])
    async with websockets.connect(chat["url"], compression=None, ping_interval=None) as upstream:
        await upstream.send(SUBSCRIBE)
        await upstream.recv()
        await send({"type": "websocket.send", "text": "ready"})
        tasks = [
            asyncio.create_task(_downstream(upstream, send)),
            asyncio.create_task(_heartbeat(upstream)),
        ]
        try:
            await _relay_sends(receive, send, chat["token"])
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _serve_start(receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    loop = asyncio.get_running_loop()
    try:
        answer, status = await loop.run_in_executor(None, start_chat, json.loads(body)), 201
    except Exception as error:  # a yardstick: report it
        answer, status = {"error": str(error)}, 502
    payload = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _relay_sends(receive: Any, send: Any, token: str) -> None:
    loop = asyncio.get_running_loop()
    client = participant_client()
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        content = json.loads(message["text"])["content"]
        try:
            await loop.run_in_executor(
                None,
                functools.partial(
                    client.send_message,
                    ConnectionToken=token,
                    Content=content,
                    ContentType="text/plain",
                ),
            )
        except Exception as error:  # a yardstick: report, keep going
            await send({"type": "websocket.send", "text": json.dumps({"error": str(error)})})


async def _downstream(upstream: Any, send: Any) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for raw in upstream:
            await send({"type": "websocket.send", "text": raw})


async def _heartbeat(upstream: Any) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_INTERVAL)
        await upstream.send(HEARTBEAT)
