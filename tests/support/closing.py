"""Closing a test's websocket client, with a failure guard instead of a deadline."""

from channels.testing import WebsocketCommunicator

from tests.support.ws_client import ChatClient

# Failure guard only: a consumer normally finishes within milliseconds.
GUARD = 30.0


async def close(client: ChatClient | WebsocketCommunicator) -> None:
    """Closes the websocket and waits for its consumer to finish. Channels' communicator
    allows one second by default, and every consumer event first waits its turn in the sync
    thread (closing stale database connections): a busy machine can take longer."""
    communicator = client.communicator if isinstance(client, ChatClient) else client
    await communicator.disconnect(timeout=GUARD)
