"""Model-driven request handling: botocore's own service models decide routing (method and
requestUri), where each input member travels (header, querystring, uri, body), validation and
response serialisation. Nothing here knows a particular operation, so the emulator follows
whatever botocore version is installed."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from .errors import ServiceError

_MAX_ERRORS_IN_MESSAGE = 10


def load_service_model(name: str) -> ServiceModel:
    """The model botocore ships for ``name`` (e.g. ``connectparticipant``)."""
    return botocore.session.get_session().get_service_model(name)


@dataclass(frozen=True)
class ServiceSpec:
    """One emulated service: its model, the operations served and its error vocabulary."""

    name: str
    model: ServiceModel
    operations: frozenset[str]
    validation_error: str
    bad_request_error: str
    throttling_error: str
    server_error: str
    # What a call over its rate quota answers (API Gateway's word for the connect service).
    rate_error: str


@dataclass(frozen=True)
class Route:
    service: ServiceSpec
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    specificity: tuple[int, int]


def _compile_uri(request_uri: str) -> tuple[re.Pattern[str], tuple[int, int]]:
    path = request_uri.split("?", 1)[0]
    regex = ""
    labels = 0
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            label = part[1:-1]
            labels += 1
            if label.endswith("+"):
                regex += f"(?P<{label[:-1]}>.+)"
            else:
                regex += f"(?P<{label}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}/?$"), (-labels, len(path))


class Router:
    """Matches an HTTP method and path to an operation of one of the served services."""

    def __init__(self, services: list[ServiceSpec]) -> None:
        routes: list[Route] = []
        for spec in services:
            for name in spec.operations:
                operation = spec.model.operation_model(name)
                pattern, specificity = _compile_uri(operation.http["requestUri"])
                routes.append(
                    Route(spec, operation, operation.http["method"], pattern, specificity)
                )
        # Literal paths win over label paths, as API Gateway routes them.
        self.routes = sorted(routes, key=lambda r: r.specificity, reverse=True)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def paths(self) -> list[str]:
        return [route.operation.http["requestUri"].split("?", 1)[0] for route in self.routes]


# ---------------------------------------------------------------- request parsing


def _coerce_text(shape: Shape, text: str) -> Any:
    """Headers, query strings and URI labels arrive as text; type them by their shape.
    A value that does not parse is left as text for the validator to reject."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        return text
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return text
    if kind == "jsonvalue" or shape.serialization.get("jsonvalue"):
        try:
            return json.loads(base64.b64decode(text))
        except ValueError:
            return text
    return text


def parse_request(
    operation: OperationModel,
    uri_params: dict[str, str],
    headers: dict[str, str],
    query: dict[str, list[str]],
    body: bytes,
    bad_request_error: str,
) -> dict[str, Any]:
    """Turn an HTTP request into the operation's parameters (model member names)."""
    shape = operation.input_shape
    if shape is None:
        return {}
    lower_headers = {key.lower(): value for key, value in headers.items()}
    params: dict[str, Any] = {}
    payload_member = shape.serialization.get("payload")
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in uri_params:
                params[name] = _coerce_text(member, uri_params[wire_name])
        elif location == "header":
            value = lower_headers.get(wire_name.lower())
            if value is not None:
                params[name] = _coerce_text(member, value)
        elif location == "headers":
            prefix = wire_name.lower()
            found = {k[len(prefix) :]: v for k, v in lower_headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
        elif location == "querystring":
            if member.type_name == "map":
                params[name] = {k: v[-1] for k, v in query.items()}
            elif wire_name in query:
                values = query[wire_name]
                if member.type_name == "list":
                    params[name] = [_coerce_text(member.member, v) for v in values]
                else:
                    params[name] = _coerce_text(member, values[-1])
        elif location == "statusCode":
            continue
        elif payload_member == name:
            if member.type_name in ("blob", "string"):
                if body:
                    params[name] = body if member.type_name == "blob" else body.decode()
            else:
                document = _json_body(body, bad_request_error)
                if document is not None:
                    params[name] = document
        else:
            body_members[name] = member
    if body_members and payload_member is None:
        document = _json_body(body, bad_request_error)
        if document is not None:
            if not isinstance(document, dict):
                raise ServiceError(bad_request_error, "The request body must be a JSON object")
            for name, member in body_members.items():
                wire_name = member.serialization.get("name", name)
                if wire_name in document:
                    params[name] = document[wire_name]
    return params


def _json_body(body: bytes, bad_request_error: str) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ServiceError(bad_request_error, "The request body is not valid JSON") from None


# ---------------------------------------------------------------- validation


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > 64:
        text = text[:61] + "..."
    return f"'{text}'"


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata

    def fail(constraint: str) -> None:
        problems.append(
            f"Value {_describe(value)} at '{path}' failed to satisfy constraint: {constraint}"
        )

    if kind == "structure":
        if not isinstance(value, dict):
            fail("Member must be a structure")
            return
        assert isinstance(shape, StructureShape)
        for required in shape.required_members:
            if value.get(required) is None:
                problems.append(
                    f"Value null at '{_join(path, required)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(path, name), problems)
        return
    if kind == "list":
        if not isinstance(value, list):
            fail("Member must be a list")
            return
        _check_bounds(meta, len(value), "length", fail)
        for index, entry in enumerate(value):
            _check(shape.member, entry, f"{path}[{index}]", problems)
        return
    if kind == "map":
        if not isinstance(value, dict):
            fail("Member must be a map")
            return
        _check_bounds(meta, len(value), "length", fail)
        for key, entry in value.items():
            _check(shape.key, key, f"{path}.key", problems)
            _check(shape.value, entry, f"{path}[{key}]", problems)
        return
    if kind == "string":
        if not isinstance(value, str):
            fail("Member must be a string")
            return
        enum = meta.get("enum")
        if enum and value not in enum:
            fail(f"Member must satisfy enum value set: [{', '.join(enum)}]")
            return
        _check_bounds(meta, len(value), "length", fail)
        pattern = meta.get("pattern")
        if pattern and not _matches(pattern, value):
            fail(f"Member must satisfy regular expression pattern: {pattern}")
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            fail("Member must be an integer")
            return
        _check_bounds(meta, value, "value", fail)
        return
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail("Member must be a number")
            return
        _check_bounds(meta, value, "value", fail)
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            fail("Member must be a boolean")
        return
    if kind == "blob":
        if not isinstance(value, str | bytes):
            fail("Member must be a blob")
        return
    if kind == "timestamp" and (
        isinstance(value, bool) or not isinstance(value, int | float | str)
    ):
        fail("Member must be a timestamp")


def _check_bounds(meta: dict[str, Any], measured: float, what: str, fail: Any) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and measured < low:
        fail(f"Member must have {what} greater than or equal to {low}")
    if high is not None and measured > high:
        fail(f"Member must have {what} less than or equal to {high}")


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _matches(pattern: str, value: str) -> bool:
    if pattern not in _PATTERNS:
        try:
            _PATTERNS[pattern] = re.compile(pattern)
        except re.error:
            _PATTERNS[pattern] = None  # Java-only syntax such as \p{L}: not checked here
    compiled = _PATTERNS[pattern]
    return compiled is None or compiled.search(value) is not None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validate(shape: Shape | None, params: dict[str, Any], error_code: str) -> None:
    """Raise ``error_code`` listing every constraint ``params`` break, naming each field."""
    if shape is None:
        return
    problems: list[str] = []
    _check(shape, params, "", problems)
    if problems:
        shown = problems[:_MAX_ERRORS_IN_MESSAGE]
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ServiceError(error_code, f"{count} validation {noun} detected: " + "; ".join(shown))


# ---------------------------------------------------------------- response serialisation


def _serialize(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        result: dict[str, Any] = {}
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            if isinstance(value, dict) and value.get(name) is not None:
                result[member.serialization.get("name", name)] = _serialize(member, value[name])
        return result
    if kind == "list":
        return [_serialize(shape.member, entry) for entry in value]
    if kind == "map":
        return {str(k): _serialize(shape.value, v) for k, v in value.items()}
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else value
        return base64.b64encode(raw).decode()
    if kind == "timestamp":
        stamp = value.timestamp() if isinstance(value, datetime) else float(value)
        if shape.serialization.get("timestampFormat") == "iso8601":
            return datetime.fromtimestamp(stamp, tz=UTC).isoformat().replace("+00:00", "Z")
        return stamp
    return value


def serialize_output(
    shape: StructureShape | None, data: dict[str, Any]
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body for a successful answer; members not in the model are
    dropped, exactly what a real service would never send."""
    if shape is None:
        return 200, {}, b"{}"
    status = 200
    headers: dict[str, str] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        value = data.get(name)
        if value is None:
            continue
        if location == "header":
            headers[member.serialization.get("name", name)] = str(value)
        elif location == "statusCode":
            status = int(value)
    payload = shape.serialization.get("payload")
    if payload:
        member = shape.members[payload]
        value = data.get(payload)
        if value is None:
            return status, headers, b""
        if member.type_name in ("blob", "string"):
            return status, headers, value if isinstance(value, bytes) else str(value).encode()
        return status, headers, json.dumps(_serialize(member, value)).encode()
    return status, headers, json.dumps(_serialize(shape, data)).encode()
