"""Log redaction: each shape a secret is logged in comes out as [redacted], and every handler of
settings.LOGGING applies it to every logger's records, tracebacks included."""

import io
import logging
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chatbridge import settings as settings_module
from chatbridge.api.auth import issue_history_token
from chatbridge.chats.crypto import new_session_token
from chatbridge.logredact import REDACTED, RedactingFilter, redact

TOKEN = "QUtJQVNFQ1JFVFRPS0VOLXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQtYW55d2hlcmU"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjdXN0b21lci00MiJ9.c2lnbmF0dXJlLWJ5dGVz"


def test_a_urls_query_string_is_dropped_and_its_host_and_path_kept():
    line = f'HTTP Request: POST https://hooks.example.com/chat?key={TOKEN} "HTTP/1.1 204"'

    assert (
        redact(line)
        == f'HTTP Request: POST https://hooks.example.com/chat?{REDACTED} "HTTP/1.1 204"'
    )


def test_the_connect_websocket_url_keeps_its_host_and_loses_its_security_token():
    url = f"wss://abc.transport.connect.us-east-1.amazonaws.com/connection?X-Amz-Security-Token={TOKEN}"

    assert redact(f"connecting to {url}") == (
        f"connecting to wss://abc.transport.connect.us-east-1.amazonaws.com/connection?{REDACTED}"
    )


def test_a_request_lines_query_string_is_dropped():
    assert redact(f"> GET /connection?X-Amz-Security-Token={TOKEN} HTTP/1.1") == (
        f"> GET /connection?{REDACTED} HTTP/1.1"
    )


def test_a_presigned_s3_urls_signature_and_credential_are_dropped():
    url = (
        "https://bucket.s3.amazonaws.com/attachments/a.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential=ASIA%2F20240101%2Fus-east-1&X-Amz-Signature={TOKEN}&X-Amz-Expires=300"
    )

    redacted = redact(f"PUT {url} 200")

    assert redacted == f"PUT https://bucket.s3.amazonaws.com/attachments/a.png?{REDACTED} 200"


def test_a_sig_parameter_is_dropped_wherever_it_stands():
    assert redact(f"expires=1700000000&sig={TOKEN}") == f"expires=1700000000&sig={REDACTED}"


def test_signature_and_security_token_parameters_outside_a_url_are_dropped():
    redacted = redact(f"X-Amz-Security-Token={TOKEN} X-Amz-Signature={TOKEN}")

    assert redacted == f"X-Amz-Security-Token={REDACTED} X-Amz-Signature={REDACTED}"


def test_an_authorization_bearer_header_keeps_its_scheme_only():
    assert redact(f"> Authorization: Bearer {TOKEN}") == f"> Authorization: Bearer {REDACTED}"


def test_a_sigv4_authorization_header_loses_its_credential_and_signature():
    header = (
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20240101/us-east-1/connect/"
        f"aws4_request, SignedHeaders=host;x-amz-date, Signature={TOKEN}"
    )

    redacted = redact(header)

    assert "AKIAEXAMPLE" not in redacted and TOKEN not in redacted
    assert redacted.startswith(f"Authorization: AWS4-HMAC-SHA256 {REDACTED}")


def test_a_bearer_token_in_any_text_is_dropped():
    assert redact(f"sent Bearer {TOKEN} along") == f"sent Bearer {REDACTED} along"


def test_an_x_amz_bearer_header_in_botocores_request_repr_is_dropped():
    logged = (
        "<AWSPreparedRequest stream_output=False, method=POST, "
        "url=https://participant.connect.us-east-1.amazonaws.com/participant/message, "
        f"headers={{'X-Amz-Bearer': b'{TOKEN}', 'Content-Type': b'application/json'}}>"
    )

    redacted = redact(logged)

    assert TOKEN not in redacted
    assert f"'X-Amz-Bearer': b'{REDACTED}', 'Content-Type': b'application/json'" in redacted


def test_an_x_amz_bearer_header_line_is_dropped():
    assert redact(f"X-Amz-Bearer: {TOKEN}") == f"X-Amz-Bearer: {REDACTED}"


def test_participant_and_connection_tokens_in_a_json_body_are_dropped():
    body = (
        f'b\'{{"ParticipantToken":"{TOKEN}","ConnectionCredentials":'
        f'{{"ConnectionToken": "{TOKEN}","Expiry":"2024-01-01T00:00:00Z"}}}}\''
    )

    redacted = redact(f"Response body:\n{body}")

    assert redacted == (
        f'Response body:\nb\'{{"ParticipantToken":"{REDACTED}","ConnectionCredentials":'
        f'{{"ConnectionToken": "{REDACTED}","Expiry":"2024-01-01T00:00:00Z"}}}}\''
    )


def test_tokens_in_json_escaped_inside_a_string_are_dropped():
    frame = f'{{"content":"{{\\"ConnectionToken\\":\\"{TOKEN}\\"}}"}}'

    assert redact(frame) == f'{{"content":"{{\\"ConnectionToken\\":\\"{REDACTED}\\"}}"}}'


def test_tokens_in_a_python_repr_are_dropped():
    logged = f"params: {{'headers': {{'X-Amz-Bearer': '{TOKEN}'}}, 'ParticipantToken': '{TOKEN}'}}"

    assert TOKEN not in redact(logged)


def test_a_jwt_is_dropped():
    assert redact(f"identity={JWT}") == f"identity={REDACTED}"
    assert redact(f"token {JWT} refused") == f"token {REDACTED} refused"


def test_chatbridges_session_and_history_tokens_are_dropped():
    session_token, history_token = new_session_token(), issue_history_token("chat-1")

    redacted = redact(f"session {session_token} history {history_token}")

    assert redacted == f"session {REDACTED} history {REDACTED}"


def test_a_urls_password_is_dropped():
    assert redact("redis://:hunter2@10.0.0.5:6379/0") == f"redis://{REDACTED}@10.0.0.5:6379/0"


def test_text_without_secrets_is_left_alone():
    line = '127.0.0.1:5000 - - "GET /api/v1/chats/c-1/events" 200 chat_id=c-1 seq=4 reason=Closed'

    assert redact(line) == line


def test_redacting_twice_changes_nothing_more():
    line = f'GET /x?sig={TOKEN} Authorization: Bearer {TOKEN} {{"ConnectionToken":"{TOKEN}"}}'

    assert redact(redact(line)) == redact(line)


# The filter on a handler.


@pytest.fixture
def written() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose one handler carries the filter and settings.LOGGING's format."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.logredact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def test_the_filter_redacts_a_message_formatted_from_its_arguments(written):
    logger, stream = written

    logger.info("HTTP Request: %s %s", "PUT", f"http://127.0.0.1/_emulator/uploads/a?sig={TOKEN}")

    assert TOKEN not in stream.getvalue()
    assert f"PUT http://127.0.0.1/_emulator/uploads/a?{REDACTED}" in stream.getvalue()


def test_the_filter_redacts_a_traceback(written):
    logger, stream = written

    try:
        raise ConnectionError(f"could not open wss://h/connection?X-Amz-Security-Token={TOKEN}")
    except ConnectionError:
        logger.exception("upstream failed")

    assert "Traceback" in stream.getvalue() and "upstream failed" in stream.getvalue()
    assert TOKEN not in stream.getvalue()
    assert f"wss://h/connection?{REDACTED}" in stream.getvalue()


def test_the_filter_redacts_stack_info():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "here", None, None)
    record.stack_info = (
        f'Stack (most recent call last):\n  open("wss://h/c?X-Amz-Security-Token={TOKEN}")'
    )

    RedactingFilter().filter(record)

    assert record.stack_info == f'Stack (most recent call last):\n  open("wss://h/c?{REDACTED}")'


def test_a_message_whose_arguments_do_not_fit_is_written_redacted(written):
    logger, stream = written

    logger.info("one %s two %s", f"Bearer {TOKEN}")

    assert "unformattable arguments" in stream.getvalue()
    assert TOKEN not in stream.getvalue()


def test_a_record_keeps_no_arguments_once_filtered():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s", (TOKEN,), None)

    assert RedactingFilter().filter(record) is True

    assert (record.msg, record.args) == (f"token={REDACTED}", None)


# settings.LOGGING.


def test_every_handler_of_settings_logging_redacts():
    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact" in handler.get("filters", []), name
    assert settings.LOGGING["filters"]["redact"]["()"] == "chatbridge.logredact.RedactingFilter"


def test_djangos_loggers_write_through_the_roots_handlers():
    for name in ("django", "django.server"):
        logger = logging.getLogger(name)
        assert logger.handlers == [] and logger.propagate, name


@pytest.mark.parametrize("name", ["httpx", "websockets.client", "botocore.endpoint", "daphne"])
def test_a_third_party_loggers_record_is_redacted_by_the_roots_handler(name):
    redacting = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(found, RedactingFilter) for found in handler.filters)
    ]
    assert len(redacting) == 1, "the root logger has no redacting handler"
    [handler] = redacting
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        logging.getLogger(name).warning("GET /connection?X-Amz-Security-Token=%s", TOKEN)
    finally:
        handler.setStream(previous)

    assert f"{name} GET /connection?{REDACTED}" in stream.getvalue()
    assert TOKEN not in stream.getvalue()


def test_log_levels_names_single_loggers():
    assert settings_module._log_levels(["botocore=debug", " daphne = INFO "]) == {
        "botocore": "DEBUG",
        "daphne": "INFO",
    }


@pytest.mark.parametrize("item", ["botocore", "=DEBUG", "botocore=LOUD"])
def test_log_levels_refuses_what_is_not_logger_equals_level(item):
    with pytest.raises(ImproperlyConfigured):
        settings_module._log_levels([item])
