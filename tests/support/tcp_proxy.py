"""A TCP proxy in front of a Redis primary that can hold its replication: while held, what
the primary sends its replicas stays unread, as if their network had stalled, and every other
connection flows. Writes the primary takes from then on exist there alone, deterministically.

A connection is a replica's once it says REPLCONF, the first thing a replica sends a primary.

It can also hold one reply (hold_reply_to): the next command that names a given key still
reaches Redis and runs there, but its reply, and whatever follows on that connection, waits
until release(). What the client read is then, deterministically, older than anything written
meanwhile by other connections.
"""

import contextlib
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class _Link:
    client: socket.socket
    upstream: socket.socket
    replication: bool = False
    held: bool = False


@dataclass
class RedisProxy:
    upstream: tuple[str, int]
    _listener: socket.socket = field(init=False)
    _flowing: threading.Event = field(default_factory=threading.Event)
    _links: list[_Link] = field(default_factory=list)
    # Set once the command hold_reply_to() waits for has gone to Redis.
    holding: threading.Event = field(default_factory=threading.Event)
    _marker: bytes | None = None
    _released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._flowing.set()
        threading.Thread(target=self._accept, name="redis-proxy", daemon=True).start()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def hold_replication(self) -> None:
        self._flowing.clear()

    def hold_reply_to(self, marker: bytes) -> None:
        """Holds the reply to the next command whose bytes contain `marker` (a key's name)."""
        self._released.clear()
        self.holding.clear()
        self._marker = marker

    def release(self) -> None:
        self._marker = None
        self._released.set()

    def close(self) -> None:
        self.release()
        with contextlib.suppress(OSError):
            self._listener.close()
        for link in self._links:
            for sock in (link.client, link.upstream):
                with contextlib.suppress(OSError):
                    sock.close()
        self._flowing.set()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                try:
                    upstream = socket.create_connection(self.upstream)
                except OSError:
                    client.close()  # the primary is gone: so is the connection
                    continue
                link = _Link(client, upstream)
                self._links.append(link)
                threading.Thread(target=self._to_upstream, args=(link,), daemon=True).start()
                threading.Thread(target=self._to_client, args=(link,), daemon=True).start()

    def _to_upstream(self, link: _Link) -> None:
        with contextlib.suppress(OSError):
            while data := link.client.recv(65536):
                if b"REPLCONF" in data.upper():
                    link.replication = True
                if self._marker is not None and self._marker in data:
                    self._marker = None
                    link.held = True
                    self.holding.set()
                link.upstream.sendall(data)
        _shut(link.upstream)

    def _to_client(self, link: _Link) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = link.upstream.recv(65536)
                if link.replication and not self._flowing.is_set():
                    # Held: this and all that follows (the end too) stays undelivered.
                    self._flowing.wait()
                    return
                if link.held:
                    self._released.wait()
                    link.held = False
                if not data:
                    break
                link.client.sendall(data)
            _shut(link.client)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
