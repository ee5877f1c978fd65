"""A TCP proxy on loopback that a test can hold: while held, what the upstream sends stays
unread, as if the network between the two had stalled. Placed between a replica and its
primary, it keeps writes from replicating, deterministically."""

import contextlib
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class TcpProxy:
    upstream: tuple[str, int]
    _listener: socket.socket = field(init=False)
    _flowing: threading.Event = field(default_factory=threading.Event)
    _sockets: list[socket.socket] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._flowing.set()
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def hold(self) -> None:
        """Stops passing on what the upstream sends (what the client sends still flows)."""
        self._flowing.clear()

    def close(self) -> None:
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()
        self._flowing.set()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self.upstream)
                self._sockets += [client, upstream]
                self._pump(client, upstream, held=None)
                self._pump(upstream, client, held=self._flowing)

    def _pump(self, source: socket.socket, target: socket.socket, held: threading.Event | None):
        def pump() -> None:
            with contextlib.suppress(OSError):
                while True:
                    if held is not None:
                        held.wait()
                    data = source.recv(65536)
                    if not data:
                        break
                    if held is not None and not held.is_set():
                        continue  # read before the hold: dropped like the rest
                    target.sendall(data)
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

        threading.Thread(target=pump, name="tcp-proxy-pump", daemon=True).start()
