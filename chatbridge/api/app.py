"""The REST API: /api/v1/, its OpenAPI schema (/api/v1/openapi.json) and docs (/api/v1/docs).

Exceptions become problem+json here, once: ChatBridge's errors (chatbridge.errors and the
API's own), ninja's validation and authentication errors, and anything unexpected (logged,
answered as a bare 500 that says nothing of the cause).
"""

import json
import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import get_script_prefix
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from chatbridge.api import problems
from chatbridge.errors import ChatBridgeError

logger = logging.getLogger(__name__)

DESCRIPTION = """\
ChatBridge's REST API for mobile apps and server-side integrations: start an Amazon Connect
chat, send messages idempotently, and read its events resumably (JSON pages, long-poll or
Server-Sent Events). Authenticate chat calls with `Authorization: Bearer <session_token>`.
Every error is `application/problem+json`. See docs/rest-api.md.
"""


class ChatBridgeApi(NinjaAPI):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._schemas: dict[tuple[str, str | None, str], str] = {}

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        """ninja's schema (below), built once per process and where it is served from.

        Building it costs about a third of a second of CPU, and it changes only with the code:
        a client asking for /openapi.json over and over (it is not rate-limited) would
        otherwise take that from every chat of the process. Each caller gets its own copy."""
        key = (
            get_script_prefix(),
            path_prefix,
            json.dumps(path_params or {}, sort_keys=True, default=str),
        )
        built = self._schemas.get(key)
        if built is None:
            schema = self._build_schema(path_prefix=path_prefix, path_params=path_params)
            built = self._schemas[key] = json.dumps(schema)
        return json.loads(built)

    def _build_schema(self, **kwargs: Any) -> Any:
        """ninja's schema, with error answers declared as application/problem+json."""
        schema = super().get_openapi_schema(**kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content") or {}
                    if str(status)[:1] in {"4", "5"} and "application/json" in content:
                        response["content"] = {
                            problems.PROBLEM_CONTENT_TYPE: content.pop("application/json")
                        }
        return schema


api = ChatBridgeApi(
    title="ChatBridge REST API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


@api.exception_handler(ChatBridgeError)
def _chatbridge_error(request: HttpRequest, error: ChatBridgeError) -> HttpResponse:
    return problems.from_error(error)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, error: ValidationError) -> HttpResponse:
    return problems.from_validation(error.errors)


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return problems.from_error(problems.NotAuthenticated())


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    if error.status_code == 400:
        return problems.problem(400, "malformed_request", "The request body is not valid JSON.")
    return problems.for_status(error.status_code, request)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return problems.for_status(404, request)


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, error: Exception) -> HttpResponse:
    logger.exception("API request failed: %s %s", request.method, request.path)
    return problems.for_status(500, request)


def _register() -> None:
    from chatbridge.api import aftercare, attachments, chats, conversations, transcript, widgets

    api.add_router("", chats.router)
    api.add_router("", transcript.router)
    api.add_router("", attachments.router)
    api.add_router("", widgets.router)
    api.add_router("", aftercare.router)
    api.add_router("", conversations.router)


_register()
