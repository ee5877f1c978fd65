"""The websocket URL a chat's start got from Connect, handed to the chat's upstream.

Starting a chat creates its participant connection (CreateParticipantConnection), which
answers a websocket URL as well as the connection token. The upstream, opened right after in
the same process, would otherwise ask Connect for a connection of its own: a second call of an
operation Connect allows only 6 times a second for the whole account, which would halve the
rate at which chats can start. The URL stays in this process's memory only, for as long as
Connect lets it be used, and is handed over once.
"""

from datetime import UTC, datetime, timedelta

from chatbridge.connect.types import ParticipantConnection

# Chats whose start's connection a process keeps for its upstream; the oldest go first.
KEPT = 1000


class WebsocketHandoff:
    __slots__ = ("_connections",)

    def __init__(self) -> None:
        self._connections: dict[str, ParticipantConnection] = {}

    def offer(self, chat_id: str, connection: ParticipantConnection) -> None:
        self._connections[chat_id] = connection
        if len(self._connections) > KEPT:
            del self._connections[next(iter(self._connections))]

    def take(self, chat_id: str, *, valid_for: timedelta) -> ParticipantConnection | None:
        """The start's connection, once, if its websocket URL is still good for `valid_for`."""
        connection = self._connections.pop(chat_id, None)
        if connection is None:
            return None
        if connection.websocket_expires_at - datetime.now(UTC) < valid_for:
            return None
        return connection


handoff = WebsocketHandoff()
