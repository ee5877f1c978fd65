"""The websocket URL a chat's start got from Connect, handed to the chat's upstream.

Starting a chat creates its participant connection (CreateParticipantConnection), which
answers a websocket URL as well as the connection token. The upstream would otherwise ask
Connect for a connection of its own: a second call of an operation Connect allows only 6 times
a second for the whole account, which would halve the rate at which chats can start.

The process that started the chat usually opens its upstream right after, and keeps the URL
in memory only (`handoff`). The start answers before the connection comes (it follows on the
start's thread), so the upstream may find it still on its way, and waits for it. A process
that only starts chats (CHATBRIDGE_HOLD_UPSTREAMS off) hands it through Redis instead
(`share`, `take_shared`): sealed like every Connect token at rest, for as long as Connect
lets it be used, and taken once, by whichever process opens the upstream.
"""

import asyncio
import json
from datetime import UTC, datetime, timedelta

from chatbridge.chats.crypto import get_token_box
from chatbridge.connect.types import ParticipantConnection
from chatbridge.redis import get_redis, keys

# Chats whose start's connection a process keeps for its upstream; the oldest go first.
KEPT = 1000


def _still_good(connection: ParticipantConnection, valid_for: timedelta) -> bool:
    return connection.websocket_expires_at - datetime.now(UTC) >= valid_for


class WebsocketHandoff:
    __slots__ = ("_connections",)

    def __init__(self) -> None:
        self._connections: dict[
            str, ParticipantConnection | asyncio.Future[ParticipantConnection | None]
        ] = {}

    def offer(
        self,
        chat_id: str,
        connection: ParticipantConnection | asyncio.Future[ParticipantConnection | None],
    ) -> None:
        """The start's connection, or the future of the one on its way (None if it failed)."""
        self._connections[chat_id] = connection
        if len(self._connections) > KEPT:
            del self._connections[next(iter(self._connections))]

    async def take(self, chat_id: str, *, valid_for: timedelta) -> ParticipantConnection | None:
        """The start's connection, once, if its websocket URL is still good for `valid_for`;
        one still on its way is waited for."""
        offered = self._connections.pop(chat_id, None)
        if isinstance(offered, asyncio.Future):
            offered = await asyncio.shield(offered)
        if offered is None or not _still_good(offered, valid_for):
            return None
        return offered


handoff = WebsocketHandoff()


async def share(
    contact_id: str, connection: ParticipantConnection, *, valid_for: timedelta
) -> None:
    """Leaves the start's connection in Redis for the process that opens the chat's upstream,
    until it is no longer good for `valid_for`. Keyed by the contact, and left before the chat
    is stored: no process can see the chat before its connection is there to take."""
    keep_ms = int(
        (connection.websocket_expires_at - datetime.now(UTC) - valid_for).total_seconds() * 1000
    )
    if keep_ms <= 0:
        return
    sealed = get_token_box().seal(
        json.dumps(
            {
                "websocket_url": connection.websocket_url,
                "websocket_expires_at": connection.websocket_expires_at.isoformat(),
                "connection_token": connection.connection_token,
                "connection_expires_at": connection.connection_expires_at.isoformat(),
            }
        )
    )
    await get_redis().set(keys().handoff(contact_id), sealed, px=keep_ms)


async def take_shared(contact_id: str, *, valid_for: timedelta) -> ParticipantConnection | None:
    """The connection another process's start shared, once (read and deleted in one round
    trip), if it is still good for `valid_for`."""
    key = keys().handoff(contact_id)
    async with get_redis().pipeline(transaction=True) as pipe:
        pipe.get(key)
        pipe.delete(key)
        sealed, _ = await pipe.execute()
    if sealed is None:
        return None
    try:
        fields = json.loads(get_token_box().open(sealed))
    except ValueError:  # sealed under a key no longer configured: ask Connect afresh
        return None
    connection = ParticipantConnection(
        websocket_url=fields["websocket_url"],
        websocket_expires_at=datetime.fromisoformat(fields["websocket_expires_at"]),
        connection_token=fields["connection_token"],
        connection_expires_at=datetime.fromisoformat(fields["connection_expires_at"]),
    )
    return connection if _still_good(connection, valid_for) else None
