"""/ws/chat/ under generated frames: whatever a client sends, the answer is the client's error
(or the frame's ordinary answer), never internal_error or a logged traceback, and the connection
stays open and keeps answering.

One connection serves each run, an authenticated one and one that never authenticates; after
each generated frame a ping with its own ref must be answered with its pong on that same
connection. Rate limits are an answer like any other: a `rate_limited` error is fine.

The frames: any JSON value, frames of every known type with fields missing, mistyped, oversized
or extra, text that is not JSON, empty and binary frames, huge and non-finite numbers, deep
nesting and oversized frames. Bounded and derandomized, so every run sends the same frames.
"""

import contextlib
import json
import logging
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from chatbridge.ws.protocol import FRAME_TYPES, End, parse_client_frame
from tests.support.closing import close
from tests.support.ws_client import ChatClient, Frame, authenticated_client

pytestmark = pytest.mark.django_db(transaction=True)

# CHATBRIDGE_WS_MAX_FRAME_BYTES's default: frames around it are generated.
MAX_FRAME_BYTES = 65536

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**63, -(2**63) - 1, 10**400])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def oversized(length: int) -> str:
    return "x" * length


# Values for a known field: plausible ones, edge lengths, and anything at all.
field_values = (
    json_values
    | st.sampled_from(["", " ", "\x00", "\ud800", "text/plain", "text/html", "read", "seen"])
    | st.sampled_from([64, 65, 256, 257, 16384, 16385]).map(oversized)
    | st.integers(min_value=0, max_value=2**31 - 1)
)
FIELDS = (
    "ref",
    "token",
    "after",
    "protocol",
    "content",
    "content_type",
    "client_id",
    "message_id",
    "kind",
)
refs = st.text(min_size=1, max_size=64)
words = st.text(min_size=1, max_size=40).filter(str.strip)
seqs = st.integers(min_value=0, max_value=50)
# A well-formed frame of each type but end (which would close the chat for the rest of the run).
well_formed = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("auth"), "token": words}, optional={"after": seqs, "ref": refs}
    ),
    st.fixed_dictionaries(
        {"type": st.just("send"), "content": words},
        optional={
            "content_type": st.sampled_from(
                ["text/plain", "text/markdown", "application/json"]
                + ["application/vnd.amazonaws.connect.message.interactive.response"]
            ),
            "client_id": refs,
            "ref": refs,
        },
    ),
    st.fixed_dictionaries({"type": st.just("typing")}, optional={"ref": refs}),
    st.fixed_dictionaries(
        {
            "type": st.just("receipt"),
            "message_id": words,
            "kind": st.sampled_from(["delivered", "read"]),
        },
        optional={"ref": refs},
    ),
    st.fixed_dictionaries({"type": st.just("ping")}, optional={"ref": refs}),
    st.fixed_dictionaries({"type": st.just("sync"), "after": seqs}, optional={"ref": refs}),
)


@st.composite
def known_frames(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed frame, as it is or with one field dropped, replaced by anything, or added."""
    frame = draw(well_formed)
    mutation = draw(st.sampled_from(["none", "drop", "replace", "add"]))
    if mutation == "drop":
        del frame[draw(st.sampled_from(sorted(frame)))]
    elif mutation == "replace":
        frame[draw(st.sampled_from(sorted(frame)))] = draw(field_values)
    elif mutation == "add":
        frame[draw(st.sampled_from([*FIELDS, "type", "extra", "TYPE"]))] = draw(field_values)
    return frame


odd_types = st.fixed_dictionaries(
    {"type": json_values | st.sampled_from([f"{t}\x00" for t in FRAME_TYPES] + ["PING", " ping"])}
)


def nested(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"type": "ping", "ref": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


def dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


TEXT_FRAMES = [
    json_values.map(dumps),
    known_frames().map(dumps),
    known_frames().map(dumps),
    known_frames().map(dumps),
    known_frames().map(dumps),
    odd_types.map(dumps),
    st.text(max_size=64),
    known_frames().map(dumps).map(lambda text: text[: len(text) // 2]),
    st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "[1e400]", ""]),
    # integers past the decoder's 4300 digits
    st.builds(
        lambda field, digits: f'{{"type": "sync", "{field}": {"9" * digits}}}',
        st.sampled_from(["after", "ref"]),
        st.integers(min_value=4290, max_value=4400),
    ),
    st.builds(nested, st.integers(min_value=1, max_value=6000), st.sampled_from(["list", "obj"])),
    st.sampled_from([MAX_FRAME_BYTES - 20, MAX_FRAME_BYTES, MAX_FRAME_BYTES + 1]).map(
        lambda size: dumps({"type": "ping", "pad": oversized(size)})
    ),
]
frames = st.one_of(
    *[branch.map(lambda text: ("text", text)) for branch in TEXT_FRAMES],
    st.binary(max_size=64).map(lambda data: ("bytes", data)),
)


def ends_the_chat(text: str) -> bool:
    """A well-formed end frame: it would end the chat, and every later frame would only meet
    chat_ended. The fuzz keeps the chat open."""
    with contextlib.suppress(Exception):
        return isinstance(parse_client_frame(text), End)
    return False


@pytest.fixture(params=["authenticated", "anonymous"])
async def client(request, runtime, settings) -> ChatClient:
    """One connection for the run: authenticated to a chat, or one that never sends a good
    auth (given the whole run to do so)."""
    if request.param == "authenticated":
        chat = await runtime.service.start_chat(display_name="Ada")
        client = await authenticated_client(chat.session_token)
    else:
        settings.CHATBRIDGE_WS_AUTH_TIMEOUT = 600.0
        client = ChatClient()
        assert await client.connect()
    yield client
    await close(client)


def assert_no_failure(frames: list[Frame], records: list[logging.LogRecord]) -> None:
    failures = [f for f in frames if f["type"] == "error" and f["code"] == "internal_error"]
    assert not failures, failures
    tracebacks = [r for r in records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


@hypothesis.settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(frame=frames)
async def test_no_frame_breaks_the_connection_or_the_server(client, caplog, frame):
    kind, data = frame
    if kind == "text" and ends_the_chat(data):
        return
    caplog.set_level(logging.WARNING)
    caplog.clear()
    seen = len(client.frames)
    if kind == "bytes":
        await client.send_raw(data=data)
    else:
        await client.send_raw(text=data)
    probe = f"probe-{seen}"
    pong = await client.request({"type": "ping", "ref": probe})
    assert pong == {"type": "pong", "ref": probe}
    assert_no_failure(client.frames[seen:], caplog.records)
