"""The one HTTP entry point for every modeled operation: route by the model, inject faults,
parse, validate, call the handler, serialise the answer or the error."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from . import cors
from .errors import ServiceError, error_response
from .service_model import ServiceSpec, parse_request, serialize_output, validate

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from .app import Emulator

PARTICIPANT_SERVICE = "connectparticipant"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallContext:
    """What a handler needs besides its parameters: the emulator and how the caller reached
    us, so that the URLs we hand out (websocket, uploads) point back the same way."""

    emulator: Emulator
    http_base: str
    websocket_base: str


def _context(request: Request, emulator: Emulator) -> CallContext:
    scheme = request.url.scheme
    netloc = request.url.netloc
    websocket_scheme = "wss" if scheme == "https" else "ws"
    return CallContext(emulator, f"{scheme}://{netloc}", f"{websocket_scheme}://{netloc}")


def _not_found() -> Response:
    return Response(
        '{"message": "No operation at this path"}',
        status_code=404,
        media_type="application/json",
        headers={"x-amzn-ErrorType": "UnknownOperationException"},
    )


def _preflight(request: Request, emulator: Emulator) -> Response:
    wanted = request.headers.get("access-control-request-method", "").upper()
    found = emulator.router.match(wanted, request.url.path) if wanted else None
    if found is None or found[0].service.name != PARTICIPANT_SERVICE:
        return _not_found()
    return cors.preflight()


async def handle_api(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if request.method == "OPTIONS":
        return _preflight(request, emulator)
    found = emulator.router.match(request.method, request.url.path)
    if found is None:
        return _not_found()
    route, uri_params = found
    spec, operation = route.service, route.operation
    response = await _call(request, emulator, spec, operation, uri_params)
    if spec.name == PARTICIPANT_SERVICE:
        response.headers.update(cors.response_headers())
    return response


async def _call(
    request: Request,
    emulator: Emulator,
    spec: ServiceSpec,
    operation: OperationModel,
    uri_params: dict[str, str],
) -> Response:
    try:
        emulator.end_due_chats()
        fault = emulator.faults.take_api(operation.name)
        if fault == "throttle":
            raise ServiceError(spec.throttling_error, "Rate exceeded")
        if fault == "error":
            raise ServiceError(spec.server_error, "Internal failure (injected by the emulator)")
        if fault == "hold":
            await emulator.faults.hold()
        if not emulator.quotas.admit(operation.name):
            raise ServiceError(spec.rate_error, "Rate exceeded")
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        params = parse_request(
            operation,
            uri_params,
            dict(request.headers),
            query,
            await request.body(),
            spec.bad_request_error,
        )
        validate(operation.input_shape, params, spec.validation_error)
        handler = emulator.handlers[operation.name]
        result = await handler(_context(request, emulator), params)
    except ServiceError as error:
        return error_response(error, spec.model, operation)
    except Exception:
        # A bug in the emulator still answers as the service would, so clients see a 5xx
        # they know how to handle, and the traceback goes to the log.
        logger.exception("%s failed", operation.name)
        failure = ServiceError(spec.server_error, "Internal failure")
        return error_response(failure, spec.model, operation)
    status, headers, body = serialize_output(operation.output_shape, result)
    headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return Response(body, status_code=status, headers=headers, media_type="application/json")
