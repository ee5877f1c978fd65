"""`python -m chatbridge.serve [daphne's options] chatbridge.asgi:application`: daphne, with its
access log written through logging.

daphne writes its access log (a line per request and per websocket) straight to standard
output, past logging's handlers and so past the redaction every handler of settings.LOGGING
applies (chatbridge/logredact.py); yet request lines carry query strings: a staff member's
transcript search, whatever a client appends. Here each of those lines goes to the
"daphne.access" logger at INFO instead: redacted like every other line, and at the level
LOG_LEVELS gives it. Every option of the `daphne` command works the same; an access log sent to
a file with --access-log stays daphne's own.

When daphne begins to shut down (SIGTERM, SIGINT), /readyz starts answering 503
(chatbridge.health.begin_shutdown), so that load balancers send no new work its way.
"""

import logging
import sys
from typing import Any

from daphne.access import AccessLogGenerator
from daphne.cli import CommandLineInterface
from daphne.server import Server

from chatbridge.health import begin_shutdown

ACCESS_LOGGER = "daphne.access"


class AccessLogStream:
    """What daphne's access log writes to: each line becomes a record."""

    def __init__(self) -> None:
        self._logger = logging.getLogger(ACCESS_LOGGER)

    def write(self, line: str) -> None:
        if line.strip():
            self._logger.info(line.rstrip("\n"))

    def flush(self) -> None:
        pass


class LoggingAccessServer(Server):
    def __init__(self, *args: Any, action_logger: Any = None, **kwargs: Any) -> None:
        if isinstance(action_logger, AccessLogGenerator) and action_logger.stream is sys.stdout:
            action_logger.stream = AccessLogStream()
        super().__init__(*args, action_logger=action_logger, **kwargs)

    def run(self) -> None:
        from twisted.internet import reactor

        reactor.addSystemEventTrigger("before", "shutdown", begin_shutdown)
        super().run()


class ServeCommand(CommandLineInterface):
    server_class = LoggingAccessServer


if __name__ == "__main__":
    ServeCommand.entrypoint()
