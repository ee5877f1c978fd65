"""The Redis session store, against a real Redis."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from chatbridge.chats.crypto import TokenBox, hash_session_token
from chatbridge.chats.records import ChatStatus
from chatbridge.chats.store import SessionStore
from chatbridge.connect.types import ParticipantConnection, StartedContact
from chatbridge.errors import RateLimited, UnknownChat
from chatbridge.ratelimit import Window

PARTICIPANT_TOKEN = "participant-token-abcdef0123456789"
CONNECTION_TOKEN = "connection-token-abcdef0123456789"


@pytest.fixture
def store(redis_client) -> SessionStore:
    return SessionStore(
        redis_client, TokenBox([Fernet.generate_key()]), prefix="test", ended_ttl=60
    )


def contact(contact_id: str = "contact-1") -> StartedContact:
    return StartedContact(
        contact_id=contact_id, participant_id="participant-1", participant_token=PARTICIPANT_TOKEN
    )


def connection(token: str = CONNECTION_TOKEN, expires_in: int = 3600) -> ParticipantConnection:
    now = datetime.now(UTC)
    return ParticipantConnection(
        websocket_url="ws://emulator/connection?X-Amz-Security-Token=ws-secret",
        websocket_expires_at=now + timedelta(seconds=100),
        connection_token=token,
        connection_expires_at=now + timedelta(seconds=expires_in),
    )


async def create(store: SessionStore, contact_id: str = "contact-1", **lease: object):
    return await store.create(
        contact=contact(contact_id),
        connection=connection(),
        display_name="Ada",
        widget_id="default",
        lifetime=timedelta(hours=2),
        **lease,
    )


async def test_created_chat_is_loaded_by_its_session_token(store):
    started = await create(store)
    session = await store.authenticate(started.session_token)
    assert session.chat_id == started.session.chat_id
    assert session.contact_id == "contact-1"
    assert session.participant_token == PARTICIPANT_TOKEN
    assert session.connection_token == CONNECTION_TOKEN
    assert session.status is ChatStatus.ACTIVE
    assert session.display_name == "Ada"


async def test_no_token_is_stored_in_plain_text(store, redis_client):
    started = await create(store)
    dump = b""
    async for key in redis_client.scan_iter("*"):
        dump += key
        if await redis_client.type(key) == b"hash":
            for field, value in (await redis_client.hgetall(key)).items():
                dump += field + value
        elif await redis_client.type(key) == b"string":
            dump += await redis_client.get(key)
    assert PARTICIPANT_TOKEN.encode() not in dump
    assert CONNECTION_TOKEN.encode() not in dump
    assert started.session_token.encode() not in dump
    assert hash_session_token(started.session_token).encode() in dump


async def test_keys_expire_with_the_chat(store, redis_client):
    started = await create(store)
    ttl = await redis_client.ttl(f"test:chat:{started.session.chat_id}")
    assert 7000 < ttl <= 7200
    assert await redis_client.ttl(f"test:token:{hash_session_token(started.session_token)}") > 7000


async def test_unknown_session_token_is_refused(store):
    with pytest.raises(UnknownChat):
        await store.authenticate("cbs_made-up")


@pytest.mark.parametrize("token", ["", None, 42])
async def test_malformed_session_token_is_refused(store, token):
    with pytest.raises(UnknownChat):
        await store.authenticate(token)


async def test_revoked_session_token_no_longer_opens_the_chat(store):
    started = await create(store)
    await store.revoke(started.session_token)
    with pytest.raises(UnknownChat):
        await store.authenticate(started.session_token)


async def test_a_second_start_of_the_same_contact_opens_the_same_chat(store):
    first = await create(store)
    second = await create(store)
    assert second.session.chat_id == first.session.chat_id
    assert second.session_token != first.session_token
    assert (await store.authenticate(second.session_token)).chat_id == first.session.chat_id


async def test_a_new_chat_claims_its_upstreams_lease_for_the_owner_given(store, redis_client):
    started = await create(store, lease_owner="host:1:abc", lease_ttl_ms=15_000)
    lease = store.keys.chat(started.session.chat_id, "lease")
    assert started.leased
    assert await redis_client.get(lease) == b"host:1:abc"
    assert 0 < await redis_client.pttl(lease) <= 15_000


async def test_a_retried_start_claims_no_lease(store, redis_client):
    first = await create(store)
    retried = await create(store, lease_owner="host:1:abc", lease_ttl_ms=15_000)
    assert retried.session.chat_id == first.session.chat_id
    assert not first.leased and not retried.leased
    assert await redis_client.exists(store.keys.chat(first.session.chat_id, "lease")) == 0


async def test_saving_a_connection_replaces_the_token_and_bumps_the_generation(store):
    started = await create(store)
    refreshed = await store.save_connection(started.session, connection("new-connection-token"))
    assert refreshed.generation == 2
    loaded = await store.load(started.session.chat_id)
    assert loaded.connection_token == "new-connection-token"
    assert loaded.generation == 2


async def test_ending_a_chat_keeps_the_first_reason_and_shortens_the_ttl(store, redis_client):
    started = await create(store)
    ended = await store.mark_ended(started.session, "agent_ended")
    again = await store.mark_ended(started.session, "customer_disconnected")
    assert ended.status is ChatStatus.ENDED
    assert again.ended_reason == "agent_ended"
    assert ended.ended_at is not None
    assert await redis_client.ttl(f"test:chat:{started.session.chat_id}") <= 60
    token_key = f"test:token:{hash_session_token(started.session_token)}"
    assert await redis_client.ttl(token_key) <= 60


async def test_an_ended_chat_is_still_readable_by_its_token(store):
    started = await create(store)
    await store.mark_ended(started.session, "agent_ended")
    session = await store.authenticate(started.session_token)
    assert session.status is ChatStatus.ENDED


async def test_a_record_whose_key_changed_cannot_be_opened(store, redis_client):
    started = await create(store)
    other = SessionStore(
        redis_client, TokenBox([Fernet.generate_key()]), prefix="test", ended_ttl=60
    )
    with pytest.raises(ValueError):
        await other.load(started.session.chat_id)


def test_session_repr_shows_no_token():
    from chatbridge.chats.records import ChatSession

    now = datetime.now(UTC)
    session = ChatSession(
        chat_id="c",
        contact_id="k",
        participant_id="p",
        participant_token=PARTICIPANT_TOKEN,
        connection_token=CONNECTION_TOKEN,
        connection_expires_at=now,
        generation=1,
        status=ChatStatus.ACTIVE,
        display_name="Ada",
        widget_id="",
        created_at=now,
        expires_at=now,
    )
    assert PARTICIPANT_TOKEN not in repr(session)
    assert CONNECTION_TOKEN not in repr(session)


async def test_a_new_chat_is_in_the_feed_once_as_it_is_created(store, redis_client):
    started = await create(store)
    entries = await redis_client.xrange(store.keys.feed)
    assert [entry[b"chat"].decode() for _, entry in entries] == [started.session.chat_id]
    assert b'"status":"active"' in entries[0][1][b"meta"]


async def test_a_retried_start_of_the_same_contact_stores_no_chat_of_its_own(store, redis_client):
    first = await create(store)
    await create(store)
    assert await store.active_chat_ids() == [first.session.chat_id]
    prefix = store.keys.chat("")
    keys = [key.decode() async for key in redis_client.scan_iter(match=prefix + "*")]
    assert {key.removeprefix(prefix).split(":")[0] for key in keys} == {first.session.chat_id}


def window(name: str, limit: int = 1) -> Window:
    return Window(f"test:limit:{name}", limit, 60, kind="api_chat")


async def test_a_token_checked_against_its_chat_opens_it_and_counts_both_windows(
    store, redis_client
):
    started = await create(store)
    check = await store.check_token(
        started.session_token,
        started.session.chat_id,
        first=[window("address", 5)],
        then=[window("chat", 5)],
    )
    assert store.session_of(check) == started.session
    assert not check.elsewhere and check.refusal is None
    assert await redis_client.get("test:limit:address") == b"1"
    assert await redis_client.get("test:limit:chat") == b"1"


async def test_a_checked_token_over_the_first_limit_is_refused_before_anything_else(
    store, redis_client
):
    started = await create(store)
    args = {"first": [window("address")], "then": [window("chat", 5)]}
    await store.check_token(started.session_token, started.session.chat_id, **args)
    with pytest.raises(RateLimited) as refused:
        await store.check_token(started.session_token, started.session.chat_id, **args)
    assert 0 < refused.value.retry_after <= 60
    assert await redis_client.get("test:limit:chat") == b"1"


async def test_a_checked_token_over_the_later_limit_says_so_and_still_opens_its_chat(store):
    started = await create(store)
    chat_id = started.session.chat_id
    await store.check_token(started.session_token, chat_id, then=[window("chat")])
    check = await store.check_token(started.session_token, chat_id, then=[window("chat")])
    assert store.session_of(check) == started.session
    assert check.refusal is not None and 0 < check.refusal.retry_after <= 60


async def test_a_token_of_another_chat_counts_only_the_first_windows(store, redis_client):
    started, other = await create(store), await create(store, "contact-2")
    check = await store.check_token(
        started.session_token,
        other.session.chat_id,
        first=[window("address", 5)],
        then=[window("chat", 5)],
    )
    assert not check.opened and check.elsewhere
    unknown = await store.check_token(
        "cbs_made-up", started.session.chat_id, first=[window("address", 5)], then=[window("chat")]
    )
    assert not unknown.opened and not unknown.elsewhere
    with pytest.raises(UnknownChat):
        store.session_of(unknown)
    assert await redis_client.get("test:limit:address") == b"2"
    assert await redis_client.get("test:limit:chat") is None
