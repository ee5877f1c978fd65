"""CORS on the participant endpoints, as the Connect Participant Service answers browsers:
amazon-connect-chatjs calls it straight from a page on any origin, with the X-Amz-Bearer
token in a header, so every call is preceded by a preflight. The ``connect`` service (SigV4,
server side) answers no preflight."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

# The headers the AWS SDKs for JavaScript (v2, which chatjs bundles, and v3) send.
ALLOWED_HEADERS = (
    "content-type",
    "x-amz-bearer",
    "x-amz-user-agent",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "x-amz-client-context",
    "authorization",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
)
ALLOWED_METHODS = ("GET", "POST", "OPTIONS")
EXPOSED_HEADERS = ("x-amzn-RequestId", "x-amzn-ErrorType", "x-amzn-ErrorMessage", "Date")
MAX_AGE = 86400


def response_headers() -> dict[str, str]:
    """Headers every participant answer carries, so that a page may read it."""
    return {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": ",".join(EXPOSED_HEADERS),
    }


def preflight() -> Response:
    """The answer to ``OPTIONS`` on a participant operation's path."""
    return Response(
        status_code=200,
        headers={
            **response_headers(),
            "Access-Control-Allow-Methods": ",".join(ALLOWED_METHODS),
            "Access-Control-Allow-Headers": ",".join(ALLOWED_HEADERS),
            "Access-Control-Max-Age": str(MAX_AGE),
        },
    )


# The attachment URLs stand in for S3 pre-signed URLs, which the instance's attachment bucket
# lets the chat page use: PUT with the signed headers, GET to download.
STORAGE_METHODS = ("GET", "PUT")
STORAGE_HEADERS = ("content-type", "x-amz-meta-contact-id")


def storage_preflight() -> Response:
    return Response(
        status_code=200,
        headers={
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": ",".join(STORAGE_METHODS),
            "Access-Control-Allow-Headers": ",".join(STORAGE_HEADERS),
            "Access-Control-Max-Age": str(MAX_AGE),
        },
    )


def storage_endpoint(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """An attachment endpoint whose answers a page on any origin may read."""

    async def wrapped(request: Request) -> Response:
        if request.method == "OPTIONS":
            return storage_preflight()
        response = await endpoint(request)
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "ETag,Content-Disposition"
        return response

    return wrapped
