"""botocore errors mapped to ChatBridge errors, in one place.

Connect's own messages are not passed on: a ValidationException keeps only the name of the
field it is about, so nothing the client sent (a token, say) is echoed back or logged.
"""

import re

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
)

from chatbridge import errors

_ACCESS_DENIED = {"AccessDeniedException", "UnauthorizedException", "ForbiddenException"}
_THROTTLED = {"ThrottlingException", "TooManyRequestsException"}
# StartChatContact's answer when the instance holds as many active chats as it may.
_AT_CAPACITY = {"LimitExceededException"}
_INVALID = {"ValidationException", "InvalidRequestException", "InvalidParameterException"}
_QUOTA = {"ServiceQuotaExceededException"}
_CONFLICT = {"ConflictException", "IdempotencyException"}
_NOT_FOUND = {"ResourceNotFoundException"}

# Field names as botocore and Connect spell them in their messages.
_FIELD_PATTERNS = (
    re.compile(r"parameter (?:input\.)?([A-Za-z][\w.\[\]]*)"),
    re.compile(r"[Vv]alue at '([\w.\[\]]+)'"),
    re.compile(r"\b(?:field|member|parameter)[: ]+'?([A-Z][\w.\[\]]*)"),
    re.compile(r"^([A-Z][A-Za-z]+) (?:is|must|cannot|should|has)\b"),
)


def field_from_message(message: str) -> str | None:
    """The name of the offending field, if the message names one."""
    for pattern in _FIELD_PATTERNS:
        match = pattern.search(message)
        if match:
            return match.group(1)
    return None


def map_error(exc: BotoCoreError | ClientError) -> errors.ChatBridgeError:
    if isinstance(exc, ClientError):
        return _map_client_error(exc)
    if isinstance(exc, ParamValidationError):
        field = field_from_message(str(exc))
        return errors.InvalidInput(f"Invalid value for {field}." if field else None, field=field)
    if isinstance(exc, NoCredentialsError):
        return errors.UpstreamUnavailable("ChatBridge has no AWS credentials for Amazon Connect.")
    if isinstance(exc, ConnectionError | HTTPClientError):
        return errors.UpstreamUnavailable()
    return errors.UpstreamUnavailable()


def _map_client_error(exc: ClientError) -> errors.ChatBridgeError:
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _ACCESS_DENIED or status == 403:
        return errors.AccessDenied()
    if code in _AT_CAPACITY:
        return errors.AtCapacity()
    if code in _THROTTLED or status == 429:
        retry_after = _retry_after(exc)
        return errors.Throttled(retry_after=retry_after)
    if code in _INVALID:
        field = field_from_message(exc.response.get("Error", {}).get("Message", ""))
        message = f"Amazon Connect rejected the value of {field}." if field else None
        return errors.InvalidInput(message, field=field)
    if code in _QUOTA:
        return errors.QuotaExceeded()
    if code in _CONFLICT:
        return errors.Conflict()
    if code in _NOT_FOUND:
        return errors.NotFound()
    return errors.UpstreamUnavailable()


def _retry_after(exc: ClientError) -> float:
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    try:
        return max(1.0, float(headers.get("retry-after", 1)))
    except ValueError:
        return 1.0
