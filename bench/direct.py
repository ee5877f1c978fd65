"""Customers that talk to Connect (the emulator) directly, as a browser with chatjs would.

A chat starts as it does with a site's backend and chatjs: StartChatContact through boto3 on a
thread pool (the backend), then CreateParticipantConnection as chatjs makes it from the
browser, one HTTP request with the participant's token. The browser's requests (that one, and
the measured send, SendMessage) go through httpx.AsyncClient, posting the same REST request
that botocore builds (X-Amz-Bearer, JSON body): the direct path pays no thread hop or botocore
overhead that a browser would not pay either, and the same HTTP client as the ChatBridge
customers, whose start is one request to ChatBridge.
"""

import asyncio
import contextlib
import functools
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import httpx
import websockets
from botocore.config import Config
from websockets.asyncio.client import ClientConnection

from bench.customers import ConnectFailed, Customer, message_id_of_echo
from bench.stats import PhaseStats

SUBSCRIBE = json.dumps({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}})
HEARTBEAT = json.dumps({"topic": "aws/heartbeat"})
HEARTBEAT_INTERVAL = 10.0  # chatjs's


def _error_kind(response: httpx.Response) -> str:
    """Connect's error type of a refused request (its x-amzn-ErrorType, without the part after
    the colon), else the HTTP status."""
    kind = response.headers.get("x-amzn-ErrorType", f"http_{response.status_code}")
    return kind.split(":")[0]


def agent_message(raw: str | bytes) -> str | None:
    """The content of an agent's message that a Connect websocket frame carries, if it does."""
    frame = json.loads(raw)
    if frame.get("topic") != "aws/chat":
        return None
    item = json.loads(frame["content"])
    if item.get("Type") == "MESSAGE" and item.get("ParticipantRole") == "AGENT":
        return item.get("Content")
    return None


class DirectConnect:
    """What the direct customers share: the backend's boto3 client, its threads, and the
    browsers' HTTP pool."""

    def __init__(self, endpoint_url: str, *, instance_id: str, contact_flow_id: str) -> None:
        self.endpoint_url = endpoint_url
        self.instance_id = instance_id
        self.contact_flow_id = contact_flow_id
        threads = 16
        config = Config(region_name="us-east-1", max_pool_connections=threads)
        session = boto3.session.Session(
            aws_access_key_id="emulator", aws_secret_access_key="emulator"
        )
        self.connect = session.client("connect", endpoint_url=endpoint_url, config=config)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-boto3")
        self.http = httpx.AsyncClient(
            base_url=endpoint_url,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
            timeout=httpx.Timeout(30.0),
        )

    async def call(self, method: Any, **params: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(method, **params))

    async def start_chat(self, display_name: str) -> dict[str, Any]:
        """A chat started as a site's backend and chatjs start one: StartChatContact through
        boto3, then the browser's CreateParticipantConnection; the connection."""
        contact = await self.call(
            self.connect.start_chat_contact,
            InstanceId=self.instance_id,
            ContactFlowId=self.contact_flow_id,
            ParticipantDetails={"DisplayName": display_name},
        )
        return await self.create_participant_connection(contact["ParticipantToken"])

    async def send_message(self, connection_token: str, content: str) -> httpx.Response:
        """The browser's SendMessage: one HTTP request with the connection's token."""
        body = {"ContentType": "text/plain", "Content": content, "ClientToken": str(uuid.uuid4())}
        return await self.http.post(
            "/participant/message",
            content=json.dumps(body),
            headers={"X-Amz-Bearer": connection_token, "Content-Type": "application/json"},
        )

    async def create_participant_connection(self, participant_token: str) -> dict[str, Any]:
        """The customer's CreateParticipantConnection, as chatjs makes it from the browser:
        one request with the participant's token, through the same HTTP client as the
        ChatBridge customers' start, so that both starts pay the same client."""
        response = await self.http.post(
            "/participant/connection",
            content=json.dumps(
                {"Type": ["WEBSOCKET", "CONNECTION_CREDENTIALS"], "ConnectParticipant": True}
            ),
            headers={"X-Amz-Bearer": participant_token, "Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise ConnectFailed(f"start_chat_{_error_kind(response)}")
        return response.json()

    async def aclose(self) -> None:
        await self.http.aclose()
        self.pool.shutdown(wait=False, cancel_futures=True)


class DirectCustomer(Customer):
    def __init__(self, index: int, stats: PhaseStats, shared: DirectConnect) -> None:
        super().__init__(index, stats)
        self.shared = shared
        self.token = ""
        self.socket: ClientConnection | None = None
        self.tasks: list[asyncio.Task] = []

    async def connect(self) -> None:
        shared = self.shared
        began = time.perf_counter()
        try:
            connection = await shared.start_chat(f"Bench customer {self.index}")
        except ConnectFailed:
            raise
        except Exception as error:
            raise ConnectFailed(f"start_chat_{type(error).__name__}") from None
        opened = time.perf_counter()
        self.stats.on_setup_step("start_chat", opened - began)
        self.token = connection["ConnectionCredentials"]["ConnectionToken"]
        try:
            self.socket = await websockets.connect(
                connection["Websocket"]["Url"],
                ping_interval=None,
                compression=None,
                open_timeout=30,
            )
        except Exception as error:
            raise ConnectFailed(f"ws_open_{type(error).__name__}") from None
        await self.socket.send(SUBSCRIBE)
        async for raw in self.socket:
            frame = json.loads(raw)
            if frame.get("topic") == "aws/subscribe":
                if (frame.get("content") or {}).get("status") != "success":
                    raise ConnectFailed("subscribe_refused")
                self.stats.on_setup_step("subscribed", time.perf_counter() - opened)
                break
        else:
            raise ConnectFailed("ws_closed_during_subscribe")
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._heartbeat())]

    async def _read(self) -> None:
        assert self.socket is not None
        try:
            async for raw in self.socket:
                message_id = message_id_of_echo(agent_message(raw))
                if message_id is not None:
                    self.echoed(message_id)
            self.lost_connection("ws_closed")
        except websockets.ConnectionClosed:
            self.lost_connection("ws_closed")

    async def _heartbeat(self) -> None:
        assert self.socket is not None
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            await self.socket.send(HEARTBEAT)

    async def send(self, message_id: str, content: str) -> None:
        try:
            response = await self.shared.send_message(self.token, content)
        except httpx.HTTPError as error:
            self.failed(message_id, f"send_{type(error).__name__}")
            return
        if response.status_code != 200:
            self.failed(message_id, f"send_{_error_kind(response)}")

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.socket is not None:
            await self.socket.close()
