"""A chat start's Idempotency-Key: a retry reaches its own chat, and nobody else reaches it.

Whoever sends a start's key (with the same body) gets a session token for its chat, so the key
must be unguessable (a random UUID, version 4) and is scoped to the widget and the verified
identity.
"""

import time
import uuid

import jwt
import pytest
from asgiref.sync import sync_to_async

from chatbridge.api.idempotency import RECORD_TTL
from tests.support.rest import assert_problem
from webwidget.models import Widget

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"widget_id": "shop", "display_name": "Ada"}


def identity_token(secret: str, sub: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 300}, secret, algorithm="HS256")


async def start(api, key: str, **body):
    return await api.post("/chats", json={**BODY, **body}, headers={"Idempotency-Key": key})


async def test_a_retried_start_with_the_same_uuid_reaches_the_same_chat(api, widget):
    key = str(uuid.uuid4())
    first, second = await start(api, key), await start(api, key)
    assert first.status_code == second.status_code == 201
    assert first.json()["chat_id"] == second.json()["chat_id"]
    assert first.json()["session_token"] != second.json()["session_token"]


async def test_a_retry_that_spells_the_uuid_in_capitals_reaches_the_same_chat(api, widget):
    key = str(uuid.uuid4())
    first, second = await start(api, key), await start(api, key.upper())
    assert first.json()["chat_id"] == second.json()["chat_id"]


async def test_another_uuid_starts_another_chat(api, widget):
    first = await start(api, str(uuid.uuid4()))
    other = await start(api, str(uuid.uuid4()))
    assert first.json()["chat_id"] != other.json()["chat_id"]


async def test_a_uuid_reused_with_another_body_is_refused(api, widget):
    key = str(uuid.uuid4())
    await start(api, key)
    assert_problem(await start(api, key, display_name="Bob"), 409, "idempotency_key_reused")


async def test_a_guessable_key_is_refused_so_two_customers_never_share_a_chat(
    api, widget, emulator
):
    first = await start(api, "order-1234")
    second = await start(api, "order-1234")
    for answer in (first, second):
        problem = assert_problem(answer, 422, "idempotency_key_weak")
        assert problem["field"] == "Idempotency-Key"
        assert "UUID" in problem["detail"] and "version 4" in problem["detail"]
    assert emulator.contacts() == []


@pytest.mark.parametrize(
    "key",
    [
        "order-1234",
        "1",
        "69915500-f0bc-11f1-a081-02fc00000001",  # version 1: a time and a node, guessable
        "6ba7b810-9dad-31d1-80b4-00c04fd430c8",  # version 3
        "6ba7b810-9dad-51d1-80b4-00c04fd430c8",  # version 5
        "00000000-0000-0000-0000-000000000000",
        "0b2f6c1e-8d4a-4f3b-7c7e-5a1d2e3f4b6c",  # version 4, but not the RFC variant
        "0b2f6c1e8d4a4f3b9c7e5a1d2e3f4b6c",  # not the canonical form
        "{0b2f6c1e-8d4a-4f3b-9c7e-5a1d2e3f4b6c}",
        "urn:uuid:0b2f6c1e-8d4a-4f3b-9c7e-5a1d2e3f4b6c",
        "0b2f6c1e-8d4a-4f3b-9c7e-5a1d2e3f4b6c0",
        "0b2f6c1e_8d4a_4f3b_9c7e_5a1d2e3f4b6c",
    ],
)
async def test_only_a_version_4_uuid_in_its_canonical_form_is_a_start_key(api, widget, key):
    assert_problem(await start(api, key), 422, "idempotency_key_weak")


async def test_a_start_with_an_identity_also_needs_a_uuid(api, widget):
    token = identity_token(widget.identity_secret, "user-1")
    assert_problem(await start(api, "order-1234", identity=token), 422, "idempotency_key_weak")


async def test_the_same_key_from_another_identity_starts_its_own_chat(api, widget):
    key = str(uuid.uuid4())
    ada = await start(api, key, identity=identity_token(widget.identity_secret, "user-1"))
    bob = await start(api, key, identity=identity_token(widget.identity_secret, "user-2"))
    assert ada.status_code == bob.status_code == 201
    assert ada.json()["chat_id"] != bob.json()["chat_id"]
    again = await start(api, key, identity=identity_token(widget.identity_secret, "user-1"))
    assert again.json()["chat_id"] == ada.json()["chat_id"]


async def test_an_anonymous_start_never_meets_an_identified_one(api, widget):
    key = str(uuid.uuid4())
    ada = await start(api, key, identity=identity_token(widget.identity_secret, "user-1"))
    anonymous = await start(api, key)
    assert anonymous.status_code == 201
    assert anonymous.json()["chat_id"] != ada.json()["chat_id"]


async def test_the_same_key_on_another_widget_starts_its_own_chat(api, widget):
    await sync_to_async(Widget.objects.create)(widget_id="other", name="Other")
    key = str(uuid.uuid4())
    shop = await start(api, key)
    other = await start(api, key, widget_id="other")
    assert other.status_code == 201
    assert other.json()["chat_id"] != shop.json()["chat_id"]


async def test_an_idempotency_key_is_forgotten_after_its_time(api, widget, redis_client):
    assert (await start(api, str(uuid.uuid4()))).status_code == 201
    records = [key async for key in redis_client.scan_iter(match="*idem*")]
    assert records
    ttls = [await redis_client.ttl(key) for key in records]
    assert all(0 < ttl <= RECORD_TTL for ttl in ttls), ttls
