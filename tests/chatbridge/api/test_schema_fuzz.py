"""schemathesis fuzzes every operation of the OpenAPI schema against the ASGI app.

No answer may be a 500, every answer must match the schema (status, content type, body), and
every schema-valid request must be accepted (positive data acceptance): what the schema allows,
the API does, so blank names, reserved attributes and weak keys are refused by the schema
itself. Bounded (a few examples per operation, derandomized) so that `make test` stays fast.
"""

import re
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import _get_portal

from chatbridge.api.idempotency import UUID4_PATTERN
from chatbridge.asgi import application
from chatbridge.runtime import stop_runtime
from webwidget.models import Widget

# Loaded at collection, before pytest-django allows the "testserver" host.
schema = schemathesis.openapi.from_asgi(
    "/api/v1/openapi.json", application, headers={"Host": "localhost"}
)

WIDGET_ID = "fuzz"


@pytest.fixture
def fuzz_widget(db, settings) -> Iterator[Widget]:
    """The one widget that exists, and room for every start the fuzz makes.

    The chats it starts get a runtime in the event loop schemathesis serves the app from; it runs
    no stream workers (archiver, webhooks), which would write to the database from their own
    threads while it is emptied, and it is stopped before that.
    """
    settings.CHATBRIDGE_RUN_ARCHIVER = False
    settings.CHATBRIDGE_RUN_WEBHOOKS = False
    settings.CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP = 10_000
    settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP = 10_000
    yield Widget.objects.create(widget_id=WIDGET_ID, name="Fuzz")
    _get_portal().call(stop_runtime)


def steer(case) -> None:
    """A schema-valid start names the widget that exists: any other id is rightly unknown (404),
    and the start would never reach what lies behind the lookup.

    Its Idempotency-Key, if any, is a UUID: schemathesis's coverage phase makes header values of
    letters and digits only, finds none for the UUID pattern, and lends the schema-valid body
    cases one of its invalid keys (e.g. "") while still calling them positive.
    """
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if not positive or case.operation.label != "POST /api/v1/chats":
        return
    if isinstance(case.body, dict):
        case.body["widget_id"] = WIDGET_ID
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if key is not None and not re.fullmatch(UUID4_PATTERN, key):
        del headers["Idempotency-Key"]


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_match_the_schema(case, emulator, fuzz_widget):
    steer(case)
    case.call_and_validate(headers={"Authorization": "Bearer fuzz"})
