"""The control API under ``/_emulator/``: for tests and people to play the agent, inspect
chats and inject faults. JSON in, JSON out; errors are ``{"error": "..."}`` with 400 (bad
input), 404 (no such contact) or 409 (the chat or agent is not in a state for that)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import clock
from .chat import ALL_MESSAGE_TYPES, RECEIPT_KINDS
from .errors import CONFLICT, ServiceError
from .faults import FAULT_KINDS, PushFault
from .state import AGENT, Contact, Participant

if TYPE_CHECKING:
    from .app import Emulator

DEFAULT_AGENT_NAME = "Agent"
DEFAULT_TRANSFER_AGENT_NAME = "Sam (transfer)"
MAX_CONTENT = 16384


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Endpoint = Callable[[Request], Awaitable[Any]]


def _endpoint(handler: Endpoint) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def wrapped(request: Request) -> JSONResponse:
        try:
            return JSONResponse(await handler(request))
        except ControlError as error:
            return JSONResponse({"error": error.message}, status_code=error.status)
        except ServiceError as error:
            status = 409 if error.code == CONFLICT else 400
            return JSONResponse({"error": error.message}, status_code=status)

    return wrapped


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        raise ControlError(400, "The body must be JSON") from None
    if not isinstance(document, dict):
        raise ControlError(400, "The body must be a JSON object")
    return document


def _contact(request: Request, active: bool = True) -> Contact:
    contact = _emulator(request).store.contacts.get(request.path_params["contact_id"])
    if contact is None:
        raise ControlError(404, "No such contact")
    if active and not contact.active:
        raise ControlError(409, "The chat has ended")
    return contact


def _agent(contact: Contact, body: dict[str, Any]) -> Participant:
    wanted = body.get("participant_id")
    if wanted is not None:
        agent = contact.participants.get(wanted)
        if agent is None or agent.role != AGENT or not agent.active:
            raise ControlError(409, "That agent is not in the chat")
        return agent
    agent = contact.current_agent()
    if agent is None:
        raise ControlError(409, "No agent is in the chat")
    return agent


def _text(body: dict[str, Any], key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not value:
        raise ControlError(400, f"{key} must be a non-empty string")
    return value


def _iso(moment: float | None) -> str | None:
    return clock.iso(moment) if moment is not None else None


def participant_view(participant: Participant) -> dict[str, Any]:
    return {
        "participant_id": participant.participant_id,
        "role": participant.role,
        "display_name": participant.display_name,
        "state": participant.state,
        "joined_at": _iso(participant.joined_at),
        "left_at": _iso(participant.left_at),
    }


def contact_summary(emulator: Emulator, contact: Contact) -> dict[str, Any]:
    counts = Counter(item.type for item in contact.items)
    return {
        "contact_id": contact.contact_id,
        "status": contact.status,
        "instance_id": contact.instance_id,
        "contact_flow_id": contact.contact_flow_id,
        "attributes": contact.attributes,
        "started_at": _iso(contact.started_at),
        "ended_at": _iso(contact.ended_at),
        "participants": [participant_view(p) for p in contact.participants.values()],
        "item_counts": {
            "total": len(contact.items),
            "transcript": sum(1 for item in contact.items if item.in_transcript),
            **dict(sorted(counts.items())),
        },
        "attachments": len(contact.attachments),
        "websockets": emulator.hub.describe(contact.contact_id),
        "websocket_peak": emulator.hub.peaks.get(contact.contact_id, 0),
        "websockets_refused": emulator.hub.refused.get(contact.contact_id, 0),
        "related_contact_id": contact.related_contact_id,
        "ends_at": _iso(contact.ends_at),
    }


# ---------------------------------------------------------------- endpoints


async def health(request: Request) -> dict[str, Any]:
    return {"status": "ok"}


async def reset(request: Request) -> dict[str, Any]:
    emulator = _emulator(request)
    emulator.reset()
    return {"status": "ok", "config": emulator.config.as_dict()}


async def get_config(request: Request) -> dict[str, Any]:
    return _emulator(request).config.as_dict()


async def set_config(request: Request) -> dict[str, Any]:
    emulator = _emulator(request)
    try:
        emulator.config = emulator.config.updated(await _body(request))
    except ValueError as error:
        raise ControlError(400, str(error)) from None
    return emulator.config.as_dict()


async def get_quotas(request: Request) -> dict[str, Any]:
    return _emulator(request).quotas.describe()


async def set_quotas(request: Request) -> dict[str, Any]:
    """``{"enabled"?: bool, "limits"?: {"SendMessage": "10/15", "ActiveChats": 500}}``;
    every bucket starts full again. A reset restores the command line's quotas."""
    emulator = _emulator(request)
    body = await _body(request)
    unknown = set(body) - {"enabled", "limits"}
    if unknown:
        raise ControlError(400, f"unknown key(s) {', '.join(sorted(unknown))}")
    settings = emulator.quotas.settings
    enabled = body.get("enabled", settings.enabled)
    if not isinstance(enabled, bool):
        raise ControlError(400, "enabled must be true or false")
    limits = body.get("limits", {})
    if not isinstance(limits, dict):
        raise ControlError(400, "limits must be an object")
    try:
        settings = replace(settings, enabled=enabled).with_limits(limits)
    except ValueError as error:
        raise ControlError(400, str(error)) from None
    emulator.quotas.configure(settings)
    return emulator.quotas.describe()


def _clock_view() -> dict[str, Any]:
    return {"now": clock.iso(clock.now()), "frozen": clock.CLOCK.frozen}


async def get_clock(request: Request) -> dict[str, Any]:
    return _clock_view()


async def set_clock(request: Request) -> dict[str, Any]:
    """``{"frozen"?: bool, "advance"?: seconds}``: freeze or thaw the emulator's clock, then
    move it forward; whatever fell due in between happens at once (chats end, sockets of
    expired tokens close). A reset thaws it and puts it back on the wall clock."""
    emulator = _emulator(request)
    body = await _body(request)
    unknown = set(body) - {"frozen", "advance"}
    if unknown:
        raise ControlError(400, f"unknown key(s) {', '.join(sorted(unknown))}")
    frozen = body.get("frozen")
    if frozen is not None and not isinstance(frozen, bool):
        raise ControlError(400, "frozen must be true or false")
    seconds = body.get("advance", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ControlError(400, "advance must be a number of seconds >= 0")
    if frozen is True:
        clock.CLOCK.freeze()
    elif frozen is False:
        clock.CLOCK.thaw()
    emulator.advance_clock(float(seconds))
    return _clock_view()


async def list_contacts(request: Request) -> list[dict[str, Any]]:
    emulator = _emulator(request)
    return [contact_summary(emulator, c) for c in emulator.store.contacts.values()]


async def get_contact(request: Request) -> dict[str, Any]:
    contact = _contact(request, active=False)
    detail = contact_summary(_emulator(request), contact)
    detail["items"] = [item.to_wire() for item in contact.items]
    return detail


async def agent_join(request: Request) -> dict[str, Any]:
    contact = _contact(request)
    body = await _body(request)
    name = _text(body, "display_name", DEFAULT_AGENT_NAME)
    return participant_view(_emulator(request).chat.join(contact, AGENT, name))


async def agent_typing(request: Request) -> dict[str, Any]:
    contact = _contact(request)
    agent = _agent(contact, await _body(request))
    return _emulator(request).chat.typing(contact, agent).to_wire()


async def agent_message(request: Request) -> dict[str, Any]:
    contact = _contact(request)
    body = await _body(request)
    agent = _agent(contact, body)
    content = _text(body, "content")
    if len(content) > MAX_CONTENT:
        raise ControlError(400, f"content may be at most {MAX_CONTENT} characters")
    content_type = _text(body, "content_type", "text/plain")
    if content_type not in ALL_MESSAGE_TYPES:
        raise ControlError(400, f"content_type must be one of {', '.join(ALL_MESSAGE_TYPES)}")
    return _emulator(request).chat.message(contact, agent, content_type, content).to_wire()


async def agent_receipt(request: Request) -> dict[str, Any]:
    contact = _contact(request)
    body = await _body(request)
    agent = _agent(contact, body)
    kind = body.get("kind", "read")
    if kind not in RECEIPT_KINDS:
        raise ControlError(400, "kind must be delivered or read")
    message_id = _text(body, "message_id")
    return _emulator(request).chat.receipt(contact, agent, message_id, kind).to_wire()


async def agent_leave(request: Request) -> dict[str, Any]:
    contact = _contact(request)
    agent = _agent(contact, await _body(request))
    _emulator(request).chat.leave(contact, agent)
    return participant_view(agent)


async def end_contact(request: Request) -> dict[str, Any]:
    contact = _contact(request)
    emulator = _emulator(request)
    emulator.chat.end(contact)
    return contact_summary(emulator, contact)


async def transfer(request: Request) -> dict[str, Any]:
    contact = _contact(request)
    name = _text(await _body(request), "display_name", DEFAULT_TRANSFER_AGENT_NAME)
    return participant_view(_emulator(request).chat.transfer(contact, name))


def _count(body: dict[str, Any]) -> int:
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ControlError(400, "count must be an integer >= 1")
    return count


async def add_fault(request: Request) -> dict[str, Any]:
    emulator = _emulator(request)
    body = await _body(request)
    operation = body.get("operation")
    if operation not in emulator.handlers:
        raise ControlError(400, f"operation must be one of {', '.join(sorted(emulator.handlers))}")
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise ControlError(400, "kind must be throttle, error or hold")
    emulator.faults.add_api(operation, kind, _count(body))
    return emulator.faults.describe()


# The longest a `GET /_emulator/faults?held=N` waits for N held calls.
HELD_WAIT = 10.0


async def list_faults(request: Request) -> dict[str, Any]:
    faults = _emulator(request).faults
    held = request.query_params.get("held")
    if held is not None:
        if not held.isdigit():
            raise ControlError(400, "held must be an integer >= 0")
        await faults.until_held(int(held), timeout=HELD_WAIT)
    return faults.describe()


async def clear_faults(request: Request) -> dict[str, Any]:
    emulator = _emulator(request)
    emulator.faults.clear()
    return emulator.faults.describe()


async def drop_websockets(request: Request) -> dict[str, Any]:
    contact = _contact(request, active=False)
    return {"dropped": _emulator(request).hub.drop(contact.contact_id)}


async def expire_connection_tokens(request: Request) -> dict[str, Any]:
    contact = _contact(request, active=False)
    store = _emulator(request).store
    connections = store.connections_of(contact.contact_id)
    store.expire(connections)
    return {"expired": len(connections)}


async def websocket_faults(request: Request) -> dict[str, Any]:
    contact = _contact(request, active=False)
    body = await _body(request)
    if "unanswered_heartbeats" in body:
        count = body["unanswered_heartbeats"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ControlError(400, "unanswered_heartbeats must be an integer >= 1")
        emulator = _emulator(request)
        emulator.faults.add_silence(contact.contact_id, count)
        return emulator.faults.describe()
    delay_ms = body.get("delay_ms", 0)
    if isinstance(delay_ms, bool) or not isinstance(delay_ms, int) or delay_ms < 0:
        raise ControlError(400, "delay_ms must be an integer >= 0")
    hold_ms = body.get("reorder_hold_ms", 1000)
    if isinstance(hold_ms, bool) or not isinstance(hold_ms, int) or hold_ms < 0:
        raise ControlError(400, "reorder_hold_ms must be an integer >= 0")
    flags = {}
    for flag in ("duplicate", "reorder"):
        value = body.get(flag, False)
        if not isinstance(value, bool):
            raise ControlError(400, f"{flag} must be true or false")
        flags[flag] = value
    fault = PushFault(delay_ms=delay_ms, reorder_hold_ms=hold_ms, **flags)
    emulator = _emulator(request)
    emulator.faults.add_push(contact.contact_id, fault, _count(body))
    return emulator.faults.describe()


_CONTACT = "/_emulator/contacts/{contact_id}"

ROUTES: list[tuple[str, Endpoint, list[str]]] = [
    ("/_emulator/health", health, ["GET"]),
    ("/_emulator/reset", reset, ["POST"]),
    ("/_emulator/config", get_config, ["GET"]),
    ("/_emulator/config", set_config, ["POST"]),
    ("/_emulator/quotas", get_quotas, ["GET"]),
    ("/_emulator/quotas", set_quotas, ["POST"]),
    ("/_emulator/clock", get_clock, ["GET"]),
    ("/_emulator/clock", set_clock, ["POST"]),
    ("/_emulator/contacts", list_contacts, ["GET"]),
    (_CONTACT, get_contact, ["GET"]),
    (_CONTACT + "/agent/join", agent_join, ["POST"]),
    (_CONTACT + "/agent/typing", agent_typing, ["POST"]),
    (_CONTACT + "/agent/message", agent_message, ["POST"]),
    (_CONTACT + "/agent/receipt", agent_receipt, ["POST"]),
    (_CONTACT + "/agent/leave", agent_leave, ["POST"]),
    (_CONTACT + "/end", end_contact, ["POST"]),
    (_CONTACT + "/transfer", transfer, ["POST"]),
    (_CONTACT + "/websockets/drop", drop_websockets, ["POST"]),
    (_CONTACT + "/websockets/faults", websocket_faults, ["POST"]),
    (_CONTACT + "/expire-connection-tokens", expire_connection_tokens, ["POST"]),
    ("/_emulator/faults", list_faults, ["GET"]),
    ("/_emulator/faults", add_fault, ["POST"]),
    ("/_emulator/faults", clear_faults, ["DELETE"]),
]


def routes() -> list[Route]:
    return [Route(path, _endpoint(fn), methods=methods) for path, fn, methods in ROUTES]
