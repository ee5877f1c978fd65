"""Identity tokens, CORS, rate limits, attachments, widget config and the problem shape."""

import time

import httpx
import jwt
import pytest
from asgiref.sync import sync_to_async
from ninja import NinjaAPI

from chatbridge.api.app import api as chatbridge_api
from chatbridge.api.identity import InvalidIdentity, verify_identity
from chatbridge.chats.schema import Event
from tests.support.rest import ORIGIN, assert_problem, bearer, contact_id, start_chat
from webwidget.models import Widget

pytestmark = pytest.mark.django_db(transaction=True)


def identity_token(secret, **claims):
    now = int(time.time())
    payload = {"sub": "user-42", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.fixture
async def strict_widget(widget):
    widget.require_identity = True
    await sync_to_async(widget.save)()
    return widget


async def test_a_valid_identity_reaches_connect_as_attributes(
    api, strict_widget, runtime, emulator
):
    token = identity_token(strict_widget.identity_secret, name="Ada L", email="ada@example.com")
    chat = await start_chat(api, identity=token)
    attributes = emulator.contact(await contact_id(runtime, chat))["attributes"]
    assert attributes["identity_verified"] == "true"
    assert attributes["identity_sub"] == "user-42"
    assert attributes["identity_name"] == "Ada L"
    assert attributes["identity_email"] == "ada@example.com"


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("missing", "identity_required"),
        ("expired", "invalid_identity"),
        ("wrong_secret", "invalid_identity"),
        ("too_long_lived", "invalid_identity"),
        ("other_widget", "invalid_identity"),
        ("no_sub", "invalid_identity"),
        ("none_alg", "invalid_identity"),
    ],
)
async def test_identity_is_refused(api, strict_widget, case, code):
    secret = strict_widget.identity_secret
    now = int(time.time())
    tokens = {
        "missing": None,
        "expired": identity_token(secret, iat=now - 900, exp=now - 600),
        "wrong_secret": identity_token("not-the-widget-secret-but-long-enough-for-hs256"),
        "too_long_lived": identity_token(secret, exp=now + 30 * 24 * 3600),
        "other_widget": identity_token(secret, aud="another-widget"),
        "no_sub": jwt.encode({"iat": now, "exp": now + 60}, secret, algorithm="HS256"),
        "none_alg": jwt.encode({"sub": "x", "iat": now, "exp": now + 60}, None, algorithm="none"),
    }
    body = {"widget_id": "shop", "display_name": "Ada"}
    if tokens[case] is not None:
        body["identity"] = tokens[case]
    response = await api.post("/chats", json=body)
    assert_problem(response, 401, code)


async def test_a_short_stored_secret_verifies_no_token(api, strict_widget):
    """A secret stored before the length check (or around it) must not vouch for anyone."""
    await Widget.objects.filter(pk=strict_widget.pk).aupdate(identity_secret="a")
    response = await api.post(
        "/chats",
        json={"widget_id": "shop", "display_name": "Ada", "identity": identity_token("a")},
    )
    assert_problem(response, 401, "invalid_identity")


def test_verification_refuses_a_short_secret_even_with_a_matching_signature():
    with pytest.raises(InvalidIdentity):
        verify_identity(identity_token("a" * 31), secret="a" * 31, widget_id="shop")
    assert verify_identity(identity_token("a" * 32), secret="a" * 32, widget_id="shop").sub


async def test_clock_skew_is_tolerated(api, strict_widget):
    now = int(time.time())
    token = identity_token(strict_widget.identity_secret, iat=now + 30, exp=now + 90)
    await start_chat(api, identity=token)
    late = identity_token(strict_widget.identity_secret, iat=now - 100, exp=now - 30)
    await start_chat(api, identity=late)


async def test_clients_cannot_claim_identity_attributes(api, widget):
    response = await api.post(
        "/chats",
        json={"widget_id": "shop", "display_name": "Ada", "attributes": {"identity_sub": "x"}},
    )
    assert assert_problem(response, 422, "invalid_input")["field"] == "attributes.identity_sub"


async def test_unknown_or_disabled_widget(api, widget):
    unknown = await api.post("/chats", json={"widget_id": "nope", "display_name": "Ada"})
    assert assert_problem(unknown, 404, "unknown_widget")["field"] == "widget_id"
    widget.enabled = False
    await sync_to_async(widget.save)()
    disabled = await api.post("/chats", json={"widget_id": "shop", "display_name": "Ada"})
    assert assert_problem(disabled, 404, "unknown_widget")["field"] == "widget_id"


async def test_cors_preflight_and_origin_checks(api, chat):
    preflight_headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }
    for path in ("/chats", f"/chats/{chat['chat_id']}/messages"):
        allowed = await api.options(path, headers=preflight_headers)
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in allowed.headers["access-control-allow-methods"]
        assert "Idempotency-Key" in allowed.headers["access-control-allow-headers"]
        assert "access-control-allow-credentials" not in allowed.headers
        foreign = await api.options(
            path, headers={**preflight_headers, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in foreign.headers
    sent = await api.post(
        f"/chats/{chat['chat_id']}/messages",
        json={"content": "hi"},
        headers={**bearer(chat), "Origin": ORIGIN},
    )
    assert sent.status_code == 201
    assert sent.headers["access-control-allow-origin"] == ORIGIN
    assert "Retry-After" in sent.headers["access-control-expose-headers"]
    refused = await api.post(
        "/chats",
        json={"widget_id": "shop", "display_name": "Ada"},
        headers={"Origin": "https://evil.example"},
    )
    assert_problem(refused, 403, "origin_not_allowed")
    started = await api.post(
        "/chats", json={"widget_id": "shop", "display_name": "Ada"}, headers={"Origin": ORIGIN}
    )
    assert started.status_code == 201
    assert started.headers["access-control-allow-origin"] == ORIGIN
    config = await api.get("/widgets/shop/config", headers={"Origin": "https://any.example"})
    assert config.headers["access-control-allow-origin"] == "*"


async def test_a_widget_following_the_settings_is_reachable_from_them_as_they_are_now(
    api, widget, settings
):
    widget.allowed_origins = ""
    await sync_to_async(widget.save)()
    settings.CHATBRIDGE_ALLOWED_ORIGINS = ["https://configured.example"]
    preflight = {"Origin": "https://configured.example", "Access-Control-Request-Method": "POST"}
    allowed = await api.options("/chats", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://configured.example"
    started = await api.post(
        "/chats",
        json={"widget_id": "shop", "display_name": "Ada"},
        headers={"Origin": "https://configured.example"},
    )
    assert started.status_code == 201
    settings.CHATBRIDGE_ALLOWED_ORIGINS = ["https://moved.example"]
    refused = await api.post(
        "/chats",
        json={"widget_id": "shop", "display_name": "Ada"},
        headers={"Origin": "https://configured.example"},
    )
    assert_problem(refused, 403, "origin_not_allowed")


async def test_the_widget_frame_behind_a_proxy_starts_chats_from_the_public_origin(
    api, widget, settings
):
    # The proxy ends TLS: ChatBridge sees http://testserver, the browser sends its https origin.
    settings.CHATBRIDGE_PUBLIC_ORIGIN = "https://chat.example.com"
    started = await api.post(
        "/chats",
        json={"widget_id": "shop", "display_name": "Ada"},
        headers={"Origin": "https://chat.example.com"},
    )
    assert started.status_code == 201
    assert started.headers["access-control-allow-origin"] == "https://chat.example.com"


async def test_rate_limits_answer_429_with_retry_after(api, chat, settings):
    settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_CHAT = 3
    path = f"/chats/{chat['chat_id']}"
    answers = [await api.get(path, headers=bearer(chat)) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    body = assert_problem(answers[3], 429, "rate_limited")
    assert 1 <= int(answers[3].headers["retry-after"]) <= 60
    assert body["detail"]


async def test_per_address_limit(api, widget, settings):
    settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP = 2
    answers = [await api.get("/widgets/shop/config") for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_problem(answers[2], 429, "rate_limited")
    assert "retry-after" in answers[2].headers


async def test_chat_starts_per_address_are_limited(api, widget, settings):
    settings.CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP = 2
    start = {"widget_id": "shop", "display_name": "Ada"}
    answers = [await api.post("/chats", json=start) for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert_problem(answers[2], 429, "rate_limited")
    assert 1 <= int(answers[2].headers["retry-after"]) <= 60
    assert (await api.get("/widgets/shop/config")).status_code == 200


async def test_a_widget_that_stops_allowing_an_origin_refuses_its_preflights_at_once(api, widget):
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    allowed = await api.options("/chats", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    widget.allowed_origins = "https://elsewhere.example"
    await sync_to_async(widget.save)()
    refused = await api.options("/chats", headers=preflight)
    assert "access-control-allow-origin" not in refused.headers


async def test_connect_throttling_beyond_the_wait_is_429_with_retry_after(
    api, chat, emulator, settings
):
    """Connect throttles every attempt: the budget slows down and retries until
    CHATBRIDGE_CONNECT_MAX_WAIT, then answers throttled."""
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 0.5
    emulator.fault("SendMessage", "throttle", count=100)
    response = await api.post(
        f"/chats/{chat['chat_id']}/messages", json={"content": "hi"}, headers=bearer(chat)
    )
    assert_problem(response, 429, "throttled")
    assert int(response.headers["retry-after"]) >= 1


async def test_attachments_upload_through_chatbridge_complete_and_download(api, chat):
    base = f"/chats/{chat['chat_id']}/attachments"
    data = b"hello attachment" * 10
    too_big = await api.post(
        base,
        json={"name": "a.txt", "content_type": "text/plain", "size": 21 * 1024 * 1024},
        headers=bearer(chat),
    )
    assert assert_problem(too_big, 422, "invalid_input")["field"] == "size"
    wrong_type = await api.post(
        base,
        json={"name": "a.exe", "content_type": "application/x-msdownload", "size": 10},
        headers=bearer(chat),
    )
    assert assert_problem(wrong_type, 422, "invalid_input")["field"] == "name"
    started = await api.post(
        base,
        json={"name": "note.txt", "content_type": "text/plain", "size": len(data)},
        headers=bearer(chat),
    )
    assert started.status_code == 201, started.text
    upload = started.json()
    assert upload["upload_url"] and upload["upload_headers"]
    attachment = upload["attachment_id"]
    short = await api.put(f"{base}/{attachment}/content", content=b"x", headers=bearer(chat))
    assert assert_problem(short, 422, "invalid_input")["field"] == "Content-Length"
    put = await api.put(f"{base}/{attachment}/content", content=data, headers=bearer(chat))
    assert put.status_code == 200, put.text
    done = await api.post(f"{base}/{attachment}/complete", headers=bearer(chat))
    assert done.status_code == 200 and done.json()["status"] == "complete"
    link = await api.get(f"{base}/{attachment}", headers=bearer(chat))
    assert link.status_code == 200
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(link.json()["url"])).content == data
    unknown = await api.put(f"{base}/nope/content", content=data, headers=bearer(chat))
    assert_problem(unknown, 404, "unknown_attachment")


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("x.png", "text/html"),
        ("x.png", "image/svg+xml"),
        ("x.txt", "text/html"),
        ("x.pdf", "application/javascript"),
        ("x.png", "image/jpeg"),
        ("x.png", "application/octet-stream"),
    ],
)
async def test_an_attachment_declared_as_another_type_is_refused(api, chat, name, content_type):
    """The declared type is what the file is served back as: a .png declared text/html would
    be rendered as a page."""
    response = await api.post(
        f"/chats/{chat['chat_id']}/attachments",
        json={"name": name, "content_type": content_type, "size": 10},
        headers=bearer(chat),
    )

    assert assert_problem(response, 422, "invalid_input")["field"] == "content_type"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("photo.PNG", "image/png"), ("a.pdf", "Application/PDF"), ("note.txt", "text/plain")],
)
async def test_an_attachment_of_its_own_type_is_accepted(api, chat, name, content_type):
    response = await api.post(
        f"/chats/{chat['chat_id']}/attachments",
        json={"name": name, "content_type": content_type, "size": 10},
        headers=bearer(chat),
    )

    assert response.status_code == 201, response.text


async def test_a_widget_cannot_allow_an_extension_attachments_do_not_know(api, widget):
    """Only the extensions with known content types may be sent, whatever the widget lists."""
    widget.attachment_types = "png html"
    await sync_to_async(widget.save)()
    chat = await start_chat(api)

    response = await api.post(
        f"/chats/{chat['chat_id']}/attachments",
        json={"name": "x.html", "content_type": "text/html", "size": 10},
        headers=bearer(chat),
    )

    assert assert_problem(response, 422, "invalid_input")["field"] == "name"


async def test_widget_config_is_public(api, widget):
    response = await api.get("/widgets/shop/config")
    assert response.status_code == 200
    config = response.json()
    assert (
        config
        == await sync_to_async(lambda: Widget.objects.get(widget_id="shop").public_config())()
    )
    assert "identity_secret" not in response.text and "webhook" not in response.text
    assert_problem(await api.get("/widgets/nope/config"), 404, "unknown_widget")


async def test_every_error_is_problem_json(api, chat):
    assert_problem(await api.get("/nowhere"), 404, "not_found")
    assert_problem(await api.delete(f"/chats/{chat['chat_id']}"), 405, "method_not_allowed")
    assert_problem(await api.post("/chats", json={}), 422, "invalid_input")
    body = assert_problem(
        await api.post("/chats", json={"widget_id": "shop"}), 422, "invalid_input"
    )
    assert body["field"] == "display_name" and body["errors"]


async def test_openapi_schema_and_docs(api):
    schema = (await api.get("/openapi.json")).json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/chats/{chat_id}/events/stream" in schema["paths"]
    post = schema["paths"]["/api/v1/chats"]["post"]
    assert "application/problem+json" in post["responses"]["422"]["content"]
    docs = await api.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]


async def test_openapi_schema_is_built_once_however_often_it_is_asked_for(api, monkeypatch):
    chatbridge_api._schemas.clear()
    built = []
    build = NinjaAPI.get_openapi_schema

    def counting_build(self, **kwargs):
        built.append(kwargs)
        return build(self, **kwargs)

    monkeypatch.setattr(NinjaAPI, "get_openapi_schema", counting_build)
    answers = [(await api.get("/openapi.json")).json() for _ in range(3)]

    assert len(built) == 1
    assert answers[0] == answers[1] == answers[2]


async def test_each_caller_gets_its_own_copy_of_the_openapi_schema():
    first = chatbridge_api.get_openapi_schema()
    first["paths"].clear()

    assert "/api/v1/chats" in chatbridge_api.get_openapi_schema()["paths"]


async def test_openapi_shows_the_events_schema_the_websocket_uses(api):
    """Pages and transcripts carry the one event model, not an open object of their own."""
    components = (await api.get("/openapi.json")).json()["components"]["schemas"]
    for page in ("EventsPageOut", "TranscriptPageOut"):
        items = components[page]["properties"]["events"]["items"]
        assert items == {"$ref": "#/components/schemas/LoggedEventOut"}
    event = components["LoggedEventOut"]["properties"]["event"]
    assert event == {"$ref": "#/components/schemas/Event"}
    expected = Event.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in expected.pop("$defs").items():
        assert components[name] == definition
    assert components["Event"] == expected
