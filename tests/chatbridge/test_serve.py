"""`python -m chatbridge.serve`: daphne, whose access log to standard output becomes records of
the daphne.access logger (and so is redacted by settings.LOGGING's handlers), written once
the response has gone out, and without Twisted's own work that daphne never uses."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from daphne.access import AccessLogGenerator

from chatbridge.serve import ACCESS_LOGGER, AccessLogStream, LoggingAccessServer

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = ["tcp:port=0:interface=127.0.0.1"]
LINE = '127.0.0.1:5000 - - [05/Dec/2026:10:00:00] "GET /admin/archive/chat/?q=ada" 200 512\n'


def test_an_access_log_line_is_a_record_of_daphne_access(caplog):
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        AccessLogStream().write(LINE)

    [record] = caplog.records
    assert (record.name, record.levelno) == (ACCESS_LOGGER, logging.INFO)
    assert record.getMessage().startswith('127.0.0.1:5000 - - [05/Dec/2026:10:00:00] "GET /admin/')


def test_the_access_log_to_standard_output_goes_through_logging():
    access_log = AccessLogGenerator(sys.stdout)

    LoggingAccessServer(application=None, endpoints=ENDPOINTS, action_logger=access_log)

    assert isinstance(access_log.stream, AccessLogStream)


def test_an_access_log_to_a_file_stays_daphnes():
    file = io.StringIO()
    access_log = AccessLogGenerator(file)

    LoggingAccessServer(application=None, endpoints=ENDPOINTS, action_logger=access_log)

    assert access_log.stream is file


# Serves one form POST with LoggingAccessServer under the reactor chatbridge.serve installs,
# and prints, as JSON, what happened in order ("sent": Twisted handed bytes to the socket,
# "answered": the application's last send returned, "logged": the access line was written,
# "twisted line": Twisted logged a line of its own) and the form arguments Twisted parsed out
# of the request.
SERVE_ONE_REQUEST = """
import json, socket, threading
from chatbridge.eventloop import install_reactor
install_reactor()
from daphne.access import AccessLogGenerator
from daphne.http_protocol import WebRequest
from twisted.internet import reactor, tcp
from twisted.logger import globalLogPublisher
from chatbridge.serve import LoggingAccessServer

events, parsed = [], {}
write_some_data, process = tcp.Connection.writeSomeData, WebRequest.process

def traced_write(self, data):
    events.append("sent")
    return write_some_data(self, data)

def traced_process(self):
    parsed.update({k.decode(): [v.decode() for v in vs] for k, vs in self.args.items()})
    return process(self)

tcp.Connection.writeSomeData, WebRequest.process = traced_write, traced_process
globalLogPublisher.addObserver(
    lambda event: "POST /chats" in str(event.get("log_io", "")) and events.append("twisted line")
)

class Lines:
    def write(self, line):
        events.append("logged")
        reactor.callLater(0, reactor.stop)

async def app(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
    events.append("answered")

def ask(port):
    body = b"display_name=Ada"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(
            b"POST /chats HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n"
            b"Content-Type: application/x-www-form-urlencoded\\r\\n"
            b"Content-Length: %d\\r\\n\\r\\n%s" % (len(body), body)
        )
        while client.recv(65536):
            pass

server = LoggingAccessServer(
    application=app,
    endpoints=["tcp:port=0:interface=127.0.0.1"],
    signal_handlers=False,
    action_logger=AccessLogGenerator(Lines()),
    ready_callable=lambda: threading.Thread(
        target=ask, args=(server.listening_addresses[0][1],), daemon=True
    ).start(),
)
reactor.callLater(30, reactor.stop)  # a bound, should the request never complete
server.run()
print(json.dumps({"events": events, "parsed": parsed}))
"""


@pytest.fixture(scope="module", params=["uvloop", "asyncio"])
def served_request(request) -> dict:
    """What happened while a LoggingAccessServer served one form POST, on each event loop."""
    result = subprocess.run(
        [sys.executable, "-c", SERVE_ONE_REQUEST],
        cwd=ROOT,
        env={**os.environ, "CHATBRIDGE_EVENT_LOOP": request.param},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_access_line_is_written_after_the_response_has_gone_out(served_request):
    events = served_request["events"]

    assert "logged" in events and "sent" in events
    assert events.index("sent") < events.index("logged")


def test_the_response_reaches_the_socket_as_it_is_written(served_request):
    events = served_request["events"]

    assert events.index("sent") < events.index("answered")


def test_twisted_writes_no_access_line_of_its_own(served_request):
    assert "twisted line" not in served_request["events"]


def test_twisted_leaves_form_bodies_to_django(served_request):
    assert served_request["parsed"] == {}
