"""Fixtures for the transcript viewer: its pages are served through ASGI (AsyncClient), like
daphne serves them."""

import pytest


@pytest.fixture
async def staff_client(async_client):
    """An AsyncClient logged in as a member of the "Transcript viewer" group."""
    from asgiref.sync import sync_to_async

    from tests.chatbridge.archive.factories import viewer

    user = await sync_to_async(viewer)()
    await async_client.aforce_login(user)
    async_client.user = user
    return async_client
