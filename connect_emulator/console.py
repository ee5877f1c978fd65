"""The agent console: one static page (HTML, CSS, JS files, no inline script) that drives
the control API so a person can play the agent."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

PACKAGE_DIR = Path(__file__).resolve().parent
PAGE = PACKAGE_DIR / "templates" / "connect_emulator" / "agent_console.html"
STATIC_DIR = PACKAGE_DIR / "static"


async def page(request: Request) -> Response:
    return FileResponse(PAGE, media_type="text/html")


async def to_page(request: Request) -> Response:
    return RedirectResponse("/_emulator/agent/")


def routes() -> list[BaseRoute]:
    return [
        Route("/_emulator/agent/", page, methods=["GET"]),
        Route("/_emulator/agent", to_page, methods=["GET"]),
        Mount("/_emulator/static", StaticFiles(directory=STATIC_DIR), name="emulator-static"),
    ]
