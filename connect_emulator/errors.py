"""Service errors, answered the way AWS answers them so that botocore raises ``ClientError``
with the right code: the model's HTTP status, an ``x-amzn-ErrorType`` header and a JSON body
carrying ``message`` (and ``Message``, which some SDKs read)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from botocore.model import OperationModel, ServiceModel
from starlette.responses import Response

ACCESS_DENIED = "AccessDeniedException"
VALIDATION = "ValidationException"
THROTTLING = "ThrottlingException"
INTERNAL_SERVER = "InternalServerException"
CONFLICT = "ConflictException"
SERVICE_QUOTA = "ServiceQuotaExceededException"
RESOURCE_NOT_FOUND = "ResourceNotFoundException"

# The connect service's own names for the same situations.
INVALID_REQUEST = "InvalidRequestException"
INVALID_PARAMETER = "InvalidParameterException"
INTERNAL_SERVICE = "InternalServiceException"
LIMIT_EXCEEDED = "LimitExceededException"
TOO_MANY_REQUESTS = "TooManyRequestsException"
CONTACT_NOT_FOUND = "ContactNotFoundException"

_FALLBACK_STATUS = {
    ACCESS_DENIED: 403,
    VALIDATION: 400,
    THROTTLING: 429,
    INTERNAL_SERVER: 500,
    CONFLICT: 409,
    SERVICE_QUOTA: 402,
    RESOURCE_NOT_FOUND: 404,
    INVALID_REQUEST: 400,
    INVALID_PARAMETER: 400,
    INTERNAL_SERVICE: 500,
    LIMIT_EXCEEDED: 429,
    TOO_MANY_REQUESTS: 429,
    CONTACT_NOT_FOUND: 410,
    "UnknownOperationException": 404,
}


class ServiceError(Exception):
    """An error the emulated service answers with; ``fields`` are extra modeled members
    (e.g. ResourceType on ResourceNotFoundException)."""

    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = fields


def access_denied(message: str = "Access denied") -> ServiceError:
    return ServiceError(ACCESS_DENIED, message)


def status_for(code: str, service: ServiceModel, operation: OperationModel | None) -> int:
    """The HTTP status the model gives the error shape (operation errors first)."""
    shapes = list(operation.error_shapes) if operation is not None else []
    for shape in shapes:
        if shape.name == code:
            return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    if code in service.shape_names:
        shape = service.shape_for(code)
        status = shape.metadata.get("error", {}).get("httpStatusCode")
        if status:
            return int(status)
    return _FALLBACK_STATUS.get(code, 400)


def error_response(
    error: ServiceError, service: ServiceModel, operation: OperationModel | None
) -> Response:
    body = {"message": error.message, "Message": error.message, **error.fields}
    return Response(
        content=json.dumps(body),
        status_code=status_for(error.code, service, operation),
        media_type="application/json",
        headers={"x-amzn-ErrorType": error.code, "x-amzn-RequestId": str(uuid.uuid4())},
    )
