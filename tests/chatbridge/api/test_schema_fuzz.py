"""schemathesis fuzzes every operation of the OpenAPI schema against the ASGI app.

No answer may be a 500, and every answer must match the schema (status, content type, body).
Bounded (a few examples per operation) so that `make test` stays fast.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from chatbridge.asgi import application

# Loaded at collection, before pytest-django allows the "testserver" host.
schema = schemathesis.openapi.from_asgi(
    "/api/v1/openapi.json", application, headers={"Host": "localhost"}
)


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_match_the_schema(case, emulator):
    # Schema-valid is not always acceptable: the widget must exist, names must not be blank.
    case.call_and_validate(
        headers={"Authorization": "Bearer fuzz"},
        excluded_checks=[positive_data_acceptance],
    )
