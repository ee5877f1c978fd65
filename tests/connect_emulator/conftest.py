"""Fixtures for the emulator's fidelity suite: one emulator process for the run, reset before
every test, real boto3 clients over HTTP and real websockets."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (http://\S+)")
# Failure guard for one read: a frame normally arrives within milliseconds.
WAIT = 15.0
SUBSCRIBE = {"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}}


@dataclass
class RunningEmulator:
    url: str
    process: subprocess.Popen[str]


def start_emulator(*args: str) -> RunningEmulator:
    """``python -m connect_emulator --port 0 ...``, ready once it prints its address."""
    process = subprocess.Popen(
        [sys.executable, "-m", "connect_emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        found = LISTENING.search(line)
        if found:
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return RunningEmulator(found.group(1), process)
    process.wait()
    raise RuntimeError("the emulator did not start:\n" + "".join(seen))


def stop_emulator(emulator: RunningEmulator) -> None:
    emulator.process.terminate()
    try:
        emulator.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        emulator.process.kill()
        emulator.process.wait()


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[RunningEmulator]:
    emulator = start_emulator("--agent", "none")
    yield emulator
    stop_emulator(emulator)


@dataclass
class ControlAnswer:
    status: int
    body: Any


@dataclass
class Control:
    """The control API, as a test uses it."""

    url: str

    def call(self, method: str, path: str, body: Any = None) -> ControlAnswer:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + "/_emulator" + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return ControlAnswer(response.status, json.loads(response.read() or b"null"))
        except urllib.error.HTTPError as error:
            return ControlAnswer(error.code, json.loads(error.read() or b"null"))

    def get(self, path: str) -> Any:
        answer = self.call("GET", path)
        assert answer.status == 200, answer.body
        return answer.body

    def post(self, path: str, body: Any = None) -> Any:
        answer = self.call("POST", path, body if body is not None else {})
        assert answer.status == 200, answer.body
        return answer.body

    def delete(self, path: str) -> Any:
        answer = self.call("DELETE", path)
        assert answer.status == 200, answer.body
        return answer.body

    def items(self, contact_id: str) -> list[dict[str, Any]]:
        return self.get(f"/contacts/{contact_id}")["items"]


@pytest.fixture
def control(emulator_process: RunningEmulator) -> Control:
    return Control(emulator_process.url)


@pytest.fixture(autouse=True)
def _reset_emulator(control: Control) -> None:
    control.post("/reset")


@pytest.fixture
def no_quotas(control: Control) -> None:
    """Quotas off, for a test that floods one operation to check something else."""
    control.post("/quotas", {"enabled": False})


@pytest.fixture
def frozen_clock(control: Control) -> Callable[[float], Any]:
    """Freeze the emulator's clock; the fixture's value moves it forward by n seconds."""
    control.post("/clock", {"frozen": True})

    def advance(seconds: float) -> Any:
        return control.post("/clock", {"advance": seconds})

    return advance


def client(service: str, url: str, **config: Any) -> Any:
    # One attempt only: faults must reach the test, not be retried away.
    options = {"retries": {"total_max_attempts": 1, "mode": "standard"}, **config}
    settings = Config(**options)
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=settings,
    )


@pytest.fixture(scope="session")
def participant_client(emulator_process: RunningEmulator) -> Any:
    return client("connectparticipant", emulator_process.url)


@pytest.fixture(scope="session")
def connect_client(emulator_process: RunningEmulator) -> Any:
    return client("connect", emulator_process.url)


@pytest.fixture(scope="session")
def unvalidated_participant_client(emulator_process: RunningEmulator) -> Any:
    """Sends whatever it is given: the emulator must do the validating."""
    return client("connectparticipant", emulator_process.url, parameter_validation=False)


@pytest.fixture(scope="session")
def unvalidated_connect_client(emulator_process: RunningEmulator) -> Any:
    return client("connect", emulator_process.url, parameter_validation=False)


@dataclass
class Chat:
    """A started chat whose customer has made one connection."""

    contact_id: str
    participant_id: str
    participant_token: str
    connection_token: str
    websocket_url: str
    connection: dict[str, Any] = field(repr=False)


def start_chat(connect_client: Any, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "InstanceId": "instance-1",
        "ContactFlowId": "flow-1",
        "ParticipantDetails": {"DisplayName": "Ann"},
    }
    params.update(extra)
    return connect_client.start_chat_contact(**params)


def connect_customer(participant_client: Any, participant_token: str, **extra: Any) -> Any:
    return participant_client.create_participant_connection(
        Type=["WEBSOCKET", "CONNECTION_CREDENTIALS"], ParticipantToken=participant_token, **extra
    )


@pytest.fixture
def new_chat(connect_client: Any, participant_client: Any) -> Callable[..., Chat]:
    def make(**extra: Any) -> Chat:
        started = start_chat(connect_client, **extra)
        connection = connect_customer(participant_client, started["ParticipantToken"])
        return Chat(
            contact_id=started["ContactId"],
            participant_id=started["ParticipantId"],
            participant_token=started["ParticipantToken"],
            connection_token=connection["ConnectionCredentials"]["ConnectionToken"],
            websocket_url=connection["Websocket"]["Url"],
            connection=connection,
        )

    return make


@pytest.fixture
def chat(new_chat: Callable[..., Chat]) -> Chat:
    return new_chat()


class Socket:
    """A participant websocket read frame by frame, with a timeout on every read."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    def send(self, frame: Any) -> None:
        self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))

    def frame(self, timeout: float = WAIT) -> dict[str, Any]:
        return json.loads(self.connection.recv(timeout=timeout))

    def subscribe(self) -> dict[str, Any]:
        self.send(SUBSCRIBE)
        return self.frame()

    def item(self, timeout: float = WAIT) -> dict[str, Any]:
        """The next aws/chat item."""
        frame = self.frame(timeout)
        assert frame["topic"] == "aws/chat", frame
        return json.loads(frame["content"])

    def item_where(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            item = self.item()
            if predicate(item):
                return item

    def closed(self, timeout: float = WAIT) -> int | None:
        """Read until the server closes the socket; return its close code."""
        try:
            while True:
                self.connection.recv(timeout=timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    def close(self) -> None:
        self.connection.close()


class Conversation:
    """A chat as a Connect client follows it: subscribed first, then the transcript so far,
    then what the websocket pushes, each item once. Nothing that happened before the
    subscription is missed, however long connecting took."""

    def __init__(self, socket: Socket, participant_client: Any, connection_token: str) -> None:
        self.socket = socket
        transcript = participant_client.get_transcript(
            ConnectionToken=connection_token, SortOrder="ASCENDING", MaxResults=100
        )
        self._backlog = list(transcript["Transcript"])
        self._seen: set[str] = set()

    def item(self) -> dict[str, Any]:
        """The next item not seen yet."""
        while True:
            item = self._backlog.pop(0) if self._backlog else self.socket.item()
            if item["Id"] not in self._seen:
                self._seen.add(item["Id"])
                return item

    def item_where(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            item = self.item()
            if predicate(item):
                return item


@pytest.fixture
def open_socket() -> Iterator[Callable[[str], Socket]]:
    with contextlib.ExitStack() as stack:

        def open_(url: str) -> Socket:
            return Socket(stack.enter_context(connect(url, open_timeout=WAIT)))

        yield open_


def error_of(raised: pytest.ExceptionInfo[Any]) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a botocore ClientError."""
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )
