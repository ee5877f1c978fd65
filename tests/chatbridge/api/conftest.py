"""REST API tests: the real ASGI app, Redis, the emulator and the test database."""

from typing import Any

import pytest

from tests.support.rest import start_chat


@pytest.fixture
async def chat(api, widget) -> dict[str, Any]:
    return await start_chat(api)
