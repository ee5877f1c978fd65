"""`python -m chatbridge.serve [daphne's options] chatbridge.asgi:application`: daphne, with its
access log written through logging.

daphne writes its access log (a line per request and per websocket) straight to standard
output, past logging's handlers and so past the redaction every handler of settings.LOGGING
applies (chatbridge/logredact.py); yet request lines carry query strings: a staff member's
transcript search, whatever a client appends. Here each of those lines goes to the
"daphne.access" logger at INFO instead: redacted like every other line, and at the level
LOG_LEVELS gives it. Every option of the `daphne` command works the same; an access log sent to
a file with --access-log stays daphne's own.

SIGTERM (and SIGINT): Twisted stops its reactor, and daphne, before the reactor shuts down,
cancels every application instance (kill_all_applications), which would drop each client
without a close frame and leave this process's leases to lapse. Here the shutdown first stops
listening (no new work), then drains the runtime (chatbridge.runtime.drain_runtime: leases
released, the other processes told, clients closed with 4012 so that they reconnect
elsewhere), and only then lets daphne cancel what is left, at most SHUTDOWN_GRACE s later.
/readyz answers 503 from the moment the shutdown begins (chatbridge.health.begin_shutdown), so
that load balancers send no new work its way.

What every request paid for nothing is left out (a chat start, traced inside daphne: 0.2 ms
less from its bytes' arrival to the application, 0.2 ms less from its answer's first message
to its last; docs/performance.md):

- The access line is written on the reactor's next turn, once the response has gone out: it
  used to be formatted, redacted and written by logging before the response's bytes reached
  the socket, and every client waited for it.
- Twisted no longer writes a line of its own per request, in its Combined Log Format, to a
  log that daphne discards.
- A response, or a websocket frame, goes to the socket as soon as it is written
  (PromptServerTransport), not on the event loop's next pass over its sockets: under load the
  rest of that pass (every callback then ready) came first. With four chats sending at once,
  a message through ChatBridge took 2.7 ms more than straight to Connect at p50 instead of
  3.0 ms (`make bench-floor`, five runs each way, alternating).
- Twisted no longer parses form bodies (`application/x-www-form-urlencoded`,
  `multipart/form-data`) into `request.args`, which daphne never reads: Django parses the
  body it is given. Every POST paid for its Content-Type's parse by the `email` package, and
  a form body was parsed twice.
"""

import asyncio  # isort:skip
from chatbridge.eventloop import install_reactor  # isort:skip

if __name__ == "__main__":
    install_reactor()

import logging  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

import daphne.server
from daphne.access import AccessLogGenerator
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from twisted.internet import defer, tcp

from chatbridge.health import begin_shutdown

ACCESS_LOGGER = "daphne.access"
# Seconds a shutdown waits for the runtime to drain before daphne cancels what is left.
SHUTDOWN_GRACE = 10.0

logger = logging.getLogger(__name__)


class AccessLogStream:
    """What daphne's access log writes to: each line becomes a record."""

    def __init__(self) -> None:
        self._logger = logging.getLogger(ACCESS_LOGGER)

    def write(self, line: str) -> None:
        if line.strip():
            self._logger.info(line.rstrip("\n"))

    def flush(self) -> None:
        pass


class BodyPassingRequest(WebRequest):
    """daphne's request, which leaves form bodies to Django (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)


class QuietHTTPFactory(HTTPFactory):
    """daphne's HTTP factory, without Twisted's work that daphne never uses."""

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BodyPassingRequest
        return protocol

    def log(self, request: Any) -> None:
        """Nothing: daphne writes the access log (LoggingAccessServer.log_action)."""


class PromptServerTransport(tcp.Server):
    """Twisted's TCP server connection, which hands what it is given to the socket at once
    rather than on the event loop's next pass over its sockets."""

    def write(self, data: bytes) -> None:
        super().write(data)
        self._send_now()

    def writeSequence(self, iovec: Any) -> None:
        super().writeSequence(iovec)
        self._send_now()

    def _send_now(self) -> None:
        if not self._tempDataLen or self.disconnecting or self._writeDisconnecting:
            return
        if self.producer is not None and (not self.streamingProducer or self.producerPaused):
            return
        # An error is left to the reactor, which finds it on its own pass (still writing).
        self.doWrite()


class LoggingAccessServer(Server):
    def __init__(self, *args: Any, action_logger: Any = None, **kwargs: Any) -> None:
        if isinstance(action_logger, AccessLogGenerator) and action_logger.stream is sys.stdout:
            action_logger.stream = AccessLogStream()
        super().__init__(*args, action_logger=action_logger, **kwargs)
        self._ports: list[Any] = []

    def listen_success(self, port: Any) -> None:
        self._ports.append(port)
        super().listen_success(port)

    def log_action(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """The access line, on the reactor's next turn: after the response's bytes (see the
        module's docstring)."""
        if self.action_logger is None:
            return
        from twisted.internet import reactor

        reactor.callLater(0, self.action_logger, protocol, action, details)

    def run(self) -> None:
        from twisted.internet import reactor

        reactor.addSystemEventTrigger("before", "shutdown", begin_shutdown)
        # daphne's Server.run builds its HTTP factory by this name.
        daphne.server.HTTPFactory = QuietHTTPFactory
        # Twisted's TCP ports build each connection from this class.
        tcp.Port.transport = PromptServerTransport
        super().run()

    def kill_all_applications(self) -> defer.Deferred:
        """Drains first (see the module's docstring), then lets daphne cancel what is left."""
        for port in self._ports:
            port.stopListening()
        drained = defer.Deferred.fromFuture(asyncio.ensure_future(_drain()))
        drained.addBoth(lambda _: Server.kill_all_applications(self))
        return drained


async def _drain() -> None:
    # Imported once daphne has set Django up: this module is loaded before.
    from chatbridge.runtime import drain_runtime

    try:
        async with asyncio.timeout(SHUTDOWN_GRACE):
            await drain_runtime()
    except Exception:
        logger.exception("the runtime did not drain cleanly")


class ServeCommand(CommandLineInterface):
    server_class = LoggingAccessServer


if __name__ == "__main__":
    ServeCommand.entrypoint()
