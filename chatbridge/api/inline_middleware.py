"""Django's own middleware, with its hooks run on the event loop for /api/ requests.

Under ASGI, Django runs each hook of a MiddlewareMixin middleware (process_request,
process_view, process_response) through sync_to_async: a hop to the request's thread and
back, about fifteen per request for the middleware in settings.MIDDLEWARE. On a busy machine
each hop waits for the OS to schedule that thread again, and a REST client paid seconds for
them on a chat start, a send or a long-poll (docs/performance.md), while the websocket, which
passes no middleware, did not.

The API's requests never touch what can make those hooks block (a session, the user, flash
messages: the API authenticates with bearer tokens), so for them the hooks run inline, as
plain calls. So do the probes and the metrics (`/healthz`, `/readyz`, `/metrics`): a busy
process would otherwise answer its orchestrator's probes late, a dozen hops each, and be
taken out of service for being busy. Every other request, the admin's above all, keeps
Django's hops. Were such a request to reach the database through one of them anyway, Django
would refuse it on the event loop (SynchronousOnlyOperation) rather than block.

Those requests skip what only pages use (the session, the user, flash messages: about 65 µs
of the event loop's time a request), and a JSON answer of the API carries a constant policy
(`API_POLICY`) instead of the pages' one, which django-csp builds anew for every response
(about 0.13 ms each, on every send, poll and chat start).
"""

from typing import Any

from asgiref.sync import sync_to_async
from csp import middleware as csp
from csp.constants import HEADER as CSP_HEADER
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security

from chatbridge.api.middleware import API_PREFIX

# Paths, besides the API's, whose hooks run inline: the probes and the metrics.
INLINE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

# A JSON answer is not a document: a browser that opens one renders it as text and runs
# nothing, so it needs no sources, only to refuse every load and every frame.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
JSON_TYPES = ("application/json", "application/problem+json")


def _runs_inline(request: HttpRequest) -> bool:
    """Whether the request's middleware hooks run inline: an API request, a probe's, the
    metrics'."""
    return request.path.startswith(API_PREFIX) or request.path_info in INLINE_PATHS


class InlineOnApi:
    """For a MiddlewareMixin subclass: its request and response hooks as plain calls on an
    /api/ request (or a probe's) under ASGI, through Django's sync_to_async otherwise; not
    run at all on those requests when only pages use the middleware (`pages_only`)."""

    pages_only = False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if not _runs_inline(request):
            return await super().__acall__(request)  # type: ignore[misc]
        if self.pages_only:
            return await self.get_response(request)  # type: ignore[attr-defined]
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)  # type: ignore[attr-defined]
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineOnApi, security.SecurityMiddleware):
    pass


class SessionMiddleware(InlineOnApi, sessions.SessionMiddleware):
    pages_only = True


class CommonMiddleware(InlineOnApi, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(InlineOnApi, csrf.CsrfViewMiddleware):
    """process_view is called by Django's handler, not by __acall__: as a coroutine it is
    awaited as it is, inline for the API (whose views are csrf-exempt) and through
    sync_to_async for the rest; under WSGI, Django calls it through async_to_sync."""

    async def process_view(
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> HttpResponseBase | None:
        view = super().process_view
        if _runs_inline(request):
            return view(request, callback, callback_args, callback_kwargs)
        return await sync_to_async(view, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )


class AuthenticationMiddleware(InlineOnApi, auth.AuthenticationMiddleware):
    pages_only = True


class MessageMiddleware(InlineOnApi, messages.MessageMiddleware):
    pages_only = True


class XFrameOptionsMiddleware(InlineOnApi, clickjacking.XFrameOptionsMiddleware):
    pass


class CSPMiddleware(InlineOnApi, csp.CSPMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if _is_api_json(request, response):
            if CSP_HEADER not in response and not getattr(response, "_csp_exempt", False):
                response[CSP_HEADER] = API_POLICY
            return response
        return super().process_response(request, response)


def _is_api_json(request: HttpRequest, response: HttpResponseBase) -> bool:
    return request.path.startswith(API_PREFIX) and response.get("Content-Type", "").startswith(
        JSON_TYPES
    )
