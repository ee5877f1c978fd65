"""CORS on the participant endpoints: a browser page on another origin (amazon-connect-chatjs)
calls the Connect Participant Service directly, each call preceded by a preflight."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.browser import launched_chromium, require_chromium
from tests.support.static_server import serving

from .conftest import start_chat

pytestmark = pytest.mark.timeout(60)

ORIGIN = "http://localhost:3000"
SDK_HEADERS = "content-type,x-amz-bearer,x-amz-user-agent,amz-sdk-invocation-id,amz-sdk-request"


def _preflight(url: str, path: str, method: str = "POST") -> httpx.Response:
    return httpx.options(
        url + path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": SDK_HEADERS,
        },
        timeout=10,
    )


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/participant/connection", "POST"),
        ("/participant/message", "POST"),
        ("/participant/event", "POST"),
        ("/participant/transcript", "POST"),
        ("/participant/disconnect", "POST"),
        ("/participant/start-attachment-upload", "POST"),
        ("/participant/complete-attachment-upload", "POST"),
        ("/participant/attachment", "POST"),
    ],
)
def test_a_preflight_of_a_participant_operation_is_allowed(emulator_process, path, method):
    answer = _preflight(emulator_process.url, path, method)

    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert method in answer.headers["access-control-allow-methods"].split(",")
    allowed = answer.headers["access-control-allow-headers"].lower().split(",")
    assert set(SDK_HEADERS.split(",")) <= set(allowed)
    assert int(answer.headers["access-control-max-age"]) > 0


def test_a_preflight_of_the_connect_service_is_not_answered(emulator_process):
    assert _preflight(emulator_process.url, "/contact/chat", "PUT").status_code == 404


def test_a_preflight_of_an_unknown_path_is_not_found(emulator_process):
    assert _preflight(emulator_process.url, "/participant/nope").status_code == 404


def test_participant_answers_let_the_page_read_them(emulator_process, connect_client):
    token = start_chat(connect_client)["ParticipantToken"]

    answer = httpx.post(
        emulator_process.url + "/participant/connection",
        headers={"Origin": ORIGIN, "X-Amz-Bearer": token},
        json={"Type": ["CONNECTION_CREDENTIALS"]},
        timeout=10,
    )

    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "x-amzn-RequestId" in answer.headers["access-control-expose-headers"].split(",")


def test_participant_errors_carry_cors_headers_too(emulator_process):
    answer = httpx.post(
        emulator_process.url + "/participant/message",
        headers={"Origin": ORIGIN, "X-Amz-Bearer": "nope"},
        json={"ContentType": "text/plain", "Content": "hi"},
        timeout=10,
    )

    assert answer.status_code == 403
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "x-amzn-ErrorType" in answer.headers["access-control-expose-headers"].split(",")


FETCH = """async ([url, token]) => {
  const answer = await fetch(url + "/participant/connection", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-Amz-Bearer": token,
      "X-Amz-User-Agent": "aws-sdk-js/2.1 chatjs",
    },
    body: JSON.stringify({Type: ["CONNECTION_CREDENTIALS"]}),
  });
  return {
    status: answer.status,
    body: await answer.json(),
    requestId: answer.headers.get("x-amzn-RequestId"),
  };
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium(require_chromium()) as browser:
        yield browser


@pytest.fixture
def page_on_another_origin(browser, tmp_path) -> Iterator[Any]:
    (tmp_path / "index.html").write_text("<!doctype html><title>chat</title>")
    with serving({"/": tmp_path}) as base:
        context = browser.new_context()
        page = context.new_page()
        page.goto(base + "/index.html")
        yield page
        context.close()


def test_chromium_calls_the_participant_api_from_another_origin(
    page_on_another_origin, emulator_process, connect_client
):
    token = start_chat(connect_client)["ParticipantToken"]

    answer = page_on_another_origin.evaluate(FETCH, [emulator_process.url, token])

    assert answer["status"] == 200
    assert answer["body"]["ConnectionCredentials"]["ConnectionToken"]
    assert answer["requestId"]


def _upload(participant_client, chat) -> dict[str, Any]:
    return participant_client.start_attachment_upload(
        ContentType="text/plain",
        AttachmentSizeInBytes=5,
        AttachmentName="note.txt",
        ConnectionToken=chat.connection_token,
    )["UploadMetadata"]


def test_a_preflight_of_an_upload_url_is_allowed(chat, participant_client):
    url = _upload(participant_client, chat)["Url"]

    answer = httpx.options(
        url,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,x-amz-meta-contact-id",
        },
        timeout=10,
    )

    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "PUT" in answer.headers["access-control-allow-methods"].split(",")
    assert "x-amz-meta-contact-id" in answer.headers["access-control-allow-headers"].split(",")


UPLOAD = """async ([url, headers]) => {
  const answer = await fetch(url, {method: "PUT", headers, body: "hello"});
  return {status: answer.status, etag: answer.headers.get("ETag")};
}"""


def test_chromium_uploads_an_attachment_from_another_origin(
    page_on_another_origin, chat, participant_client
):
    metadata = _upload(participant_client, chat)

    answer = page_on_another_origin.evaluate(
        UPLOAD, [metadata["Url"], metadata["HeadersToInclude"]]
    )

    assert answer["status"] == 200
    assert answer["etag"]
