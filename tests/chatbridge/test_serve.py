"""`python -m chatbridge.serve`: daphne, whose access log to standard output becomes records of
the daphne.access logger (and so is redacted by settings.LOGGING's handlers)."""

import io
import logging
import sys

from daphne.access import AccessLogGenerator

from chatbridge.serve import ACCESS_LOGGER, AccessLogStream, LoggingAccessServer

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
