"""botocore errors become ChatBridge errors: unit tests with botocore's Stubber."""

import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

from chatbridge import errors
from chatbridge.connect import clients
from chatbridge.connect.errors import field_from_message, map_error
from chatbridge.connect.gateway import ConnectGateway


@pytest.fixture
def stubbed_participant(monkeypatch):
    client = clients.participant_client()
    with Stubber(client) as stubber:
        yield stubber


def stub_send_message_error(stubber: Stubber, code: str, status: int, message: str = "x"):
    stubber.add_client_error(
        "send_message", service_error_code=code, service_message=message, http_status_code=status
    )


async def send(gateway: ConnectGateway):
    return await gateway.send_message(
        "connection-token", content_type="text/plain", content="hi", client_token="c1"
    )


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("AccessDeniedException", 403, errors.AccessDenied),
        ("ValidationException", 400, errors.InvalidInput),
        ("ServiceQuotaExceededException", 402, errors.QuotaExceeded),
        ("ConflictException", 409, errors.Conflict),
        ("ResourceNotFoundException", 404, errors.NotFound),
        ("InternalServerException", 500, errors.UpstreamUnavailable),
    ],
)
async def test_each_connect_error_maps_to_one_chatbridge_error(
    stubbed_participant, code, status, expected
):
    stub_send_message_error(stubbed_participant, code, status)
    with pytest.raises(expected):
        await send(ConnectGateway())


async def test_validation_error_names_the_field_but_not_the_value(stubbed_participant):
    stub_send_message_error(
        stubbed_participant,
        "ValidationException",
        400,
        "1 validation error detected: Value at 'content' failed to satisfy constraint",
    )
    with pytest.raises(errors.InvalidInput) as caught:
        await send(ConnectGateway())
    assert caught.value.field == "content"
    assert "failed to satisfy" not in caught.value.message


def test_client_side_validation_error_keeps_only_the_field_name():
    secret = "secret-token-value"
    error = ParamValidationError(
        report=f"Invalid type for parameter ConnectionToken, value: {secret}, type: <int>"
    )
    mapped = map_error(error)
    assert isinstance(mapped, errors.InvalidInput)
    assert mapped.field == "ConnectionToken"
    assert secret not in mapped.message


@pytest.mark.parametrize(
    ("code", "operation", "expected"),
    [
        ("ThrottlingException", "SendMessage", errors.Throttled),
        ("TooManyRequestsException", "StartChatContact", errors.Throttled),
        ("LimitExceededException", "StartChatContact", errors.AtCapacity),
    ],
)
def test_throttles_and_the_concurrent_chats_cap_map_apart(code, operation, expected):
    """A 429 is a throttle (wait and retry), except StartChatContact's LimitExceededException:
    the instance holds as many chats as it may, which waiting a second does not cure."""
    from botocore.exceptions import ClientError

    error = ClientError(
        {
            "Error": {"Code": code, "Message": "x"},
            "ResponseMetadata": {"HTTPStatusCode": 429, "HTTPHeaders": {}},
        },
        operation,
    )
    assert type(map_error(error)) is expected


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0"}, 1.0),
        ({}, 1.0),
        ({"retry-after": "x"}, 1.0),
    ],
)
def test_throttling_carries_a_retry_after_of_at_least_one_second(headers, retry_after):
    from botocore.exceptions import ClientError

    error = ClientError(
        {
            "Error": {"Code": "ThrottlingException", "Message": "slow down"},
            "ResponseMetadata": {"HTTPStatusCode": 429, "HTTPHeaders": headers},
        },
        "SendMessage",
    )
    mapped = map_error(error)
    assert isinstance(mapped, errors.Throttled)
    assert mapped.retry_after == retry_after


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("Invalid length for parameter Content, value: 0, valid min length: 1", "Content"),
        ("1 validation error detected: Value at 'contentType' failed", "contentType"),
        ("nothing to see here", None),
    ],
)
def test_field_from_message(message, field):
    assert field_from_message(message) == field
