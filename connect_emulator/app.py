"""The emulator as one Starlette application: model-driven API routes, the participant
websocket, the S3 stand-in for attachments, the control API and the agent console."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from . import attachments, clock, console, control, cors, errors
from .agents import AgentDirector
from .chat import Chat
from .config import EmulatorConfig
from .contact_api import HANDLERS as CONTACT_HANDLERS
from .dispatch import handle_api
from .faults import FaultBook
from .participant_api import HANDLERS as PARTICIPANT_HANDLERS
from .participant_api import Handler
from .quotas import WEBSOCKETS_PER_PARTICIPANT, QuotaBook, QuotaSettings
from .service_model import Router, ServiceSpec, load_service_model
from .state import Store
from .websocket import SocketHub

API_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
# How often chat deadlines are checked while nobody calls (calls and clock moves check at once).
SWEEP_INTERVAL = 1.0


def service_specs() -> list[ServiceSpec]:
    """The two services, each with its own words for bad input, throttling and failure."""
    return [
        ServiceSpec(
            name="connectparticipant",
            model=load_service_model("connectparticipant"),
            operations=frozenset(PARTICIPANT_HANDLERS),
            validation_error=errors.VALIDATION,
            bad_request_error=errors.VALIDATION,
            throttling_error=errors.THROTTLING,
            server_error=errors.INTERNAL_SERVER,
            rate_error=errors.THROTTLING,
        ),
        ServiceSpec(
            name="connect",
            model=load_service_model("connect"),
            operations=frozenset(CONTACT_HANDLERS),
            validation_error=errors.INVALID_PARAMETER,
            bad_request_error=errors.INVALID_REQUEST,
            throttling_error=errors.LIMIT_EXCEEDED,
            server_error=errors.INTERNAL_SERVICE,
            rate_error=errors.TOO_MANY_REQUESTS,
        ),
    ]


class Emulator:
    """All state and behaviour of one emulated Connect instance."""

    def __init__(self, defaults: EmulatorConfig, quotas: QuotaSettings | None = None) -> None:
        self.defaults = defaults
        self.config = replace(defaults)
        self.quota_defaults = quotas or QuotaSettings()
        self.quotas = QuotaBook(self.quota_defaults)
        self.store = Store()
        self.faults = FaultBook()
        self.chat = Chat(self.store)
        self.hub = SocketHub(
            self.store, self.faults, lambda: self.quotas.limit(WEBSOCKETS_PER_PARTICIPANT)
        )
        self.agents = AgentDirector(self)
        self.router = Router(service_specs())
        self.handlers: dict[str, Handler] = {**PARTICIPANT_HANDLERS, **CONTACT_HANDLERS}

    def reset(self) -> None:
        """Forget every chat, close every socket, clear faults, restore the CLI settings."""
        self.agents.cancel_all()
        self.hub.close_all("Emulator reset")
        self.hub.clear_counts()
        self.store.clear()
        self.faults.clear()
        self.config = replace(self.defaults)
        self.quotas.configure(self.quota_defaults)
        self.quotas.forget_calls()
        clock.CLOCK.reset()

    def end_due_chats(self) -> None:
        """End the chats past their duration or whose customer never connected in time."""
        moment = clock.now()
        for contact in self.store.due_contacts(moment):
            if moment >= contact.ends_at or (
                contact.connect_by is not None and moment >= contact.connect_by
            ):
                self.chat.end(contact)

    def advance_clock(self, seconds: float) -> None:
        """Move the clock and act at once on what fell due; sockets watch their own token's
        expiry in real time, so only a moved clock needs them checked here."""
        clock.CLOCK.advance(seconds)
        self.end_due_chats()
        self.hub.close_expired(clock.now())


async def _sweep_forever(emulator: Emulator) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL)
        emulator.end_due_chats()


def create_app(
    config: EmulatorConfig | None = None, quotas: QuotaSettings | None = None
) -> Starlette:
    emulator = Emulator(config or EmulatorConfig(), quotas)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(_sweep_forever(emulator))
        yield
        sweeper.cancel()
        emulator.agents.cancel_all()
        emulator.hub.close_all("Emulator shutting down")

    routes = [
        *control.routes(),
        *console.routes(),
        Route(
            "/_emulator/uploads/{attachment_id}",
            cors.storage_endpoint(attachments.upload_endpoint),
            methods=["PUT", "OPTIONS"],
        ),
        Route(
            "/_emulator/attachments/{attachment_id}",
            cors.storage_endpoint(attachments.download_endpoint),
            methods=["GET", "OPTIONS"],
        ),
        WebSocketRoute("/connection", emulator.hub.endpoint),
        Route("/{path:path}", handle_api, methods=API_METHODS),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.emulator = emulator
    return app
