"""The Redis session store: the only code that reads or writes a chat's session hash.

Keys (named in chatbridge.redis):

- ``chat:<chat_id>``: a hash with the session record; Connect's tokens Fernet-encrypted.
- ``contact:<contact_id>``: the chat id of a Connect contact, so that a retried start of the
  same contact (same ClientToken) lands on the same chat.
- ``token:<sha256 of a session token>``: the chat id the token opens.
- ``chat:<chat_id>:tokens``: the digests of the chat's session tokens, to expire them with it.
- ``active``: the ids of the chats that have not ended.

Every key lives as long as the chat may (Connect's chat duration plus a grace period); once a
chat ends they are kept for settings.CHATBRIDGE_ENDED_SESSION_TTL so that clients can still
read its history and be told it ended.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from django.conf import settings

from chatbridge.chats.crypto import TokenBox, get_token_box, hash_session_token, new_session_token
from chatbridge.chats.feed import FEED_MAXLEN, ChatMeta, publish_chat
from chatbridge.chats.kept_lock import KeptLock
from chatbridge.chats.records import ChatSession, ChatStatus, StartedChat
from chatbridge.connect.types import ParticipantConnection, StartedContact
from chatbridge.errors import UnknownChat
from chatbridge.ratelimit import WINDOWS_LUA, Refusal, Window, refusal, window_args
from chatbridge.redis import RedisKeys, get_redis

# A refresh lock's lease (renewed while its holder lives) and how long another refresh of the
# chat waits for it.
REFRESH_LOCK_TTL = 10.0
REFRESH_LOCK_WAIT = 40.0
# The expiry of a chat stored before its connection came: due for a refresh at once.
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)

# Ends a chat only if it is still active, and shortens the life of all its keys; atomic so
# that the first reason to end a chat is the one kept.
_END_SCRIPT = """
local chat = KEYS[1]
redis.call('SREM', KEYS[4], ARGV[5])
if redis.call('EXISTS', chat) == 0 then return 0 end
if redis.call('HGET', chat, 'status') == 'active' then
  redis.call('HSET', chat, 'status', 'ended', 'ended_at', ARGV[1], 'ended_reason', ARGV[2])
end
local ttl = tonumber(ARGV[3])
local current = redis.call('TTL', chat)
if current < 0 or current > ttl then
  redis.call('EXPIRE', chat, ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
  for _, digest in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    redis.call('EXPIRE', ARGV[4] .. digest, ttl)
  end
end
return 1
"""


# Stores a new chat in one step: it claims the contact (a retried start of the same contact
# finds the chat of the first and writes nothing), then writes the session, marks it active,
# issues its first session token, adds its metadata to the feed and, given an owner (ARGV[6]),
# claims the lease on the chat's upstream for it (KEYS[7], for ARGV[7] ms); given a token
# (ARGV[8]), takes the chat's refresh lock (KEYS[8], for ARGV[9] ms) under it. Answers the chat
# id that already holds the contact, or 1 if the lease was claimed, else 0.
_CREATE_SCRIPT = """
local ttl = ARGV[1]
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ttl) then
  return redis.call('GET', KEYS[2])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 10))
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SET', KEYS[4], ARGV[2], 'EX', ttl)
redis.call('SADD', KEYS[5], ARGV[3])
redis.call('EXPIRE', KEYS[5], ttl)
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[4], '*', 'chat', ARGV[2], 'meta', ARGV[5])
if ARGV[8] ~= '' then redis.call('SET', KEYS[8], ARGV[8], 'PX', ARGV[9]) end
if ARGV[6] ~= '' and redis.call('SET', KEYS[7], ARGV[6], 'NX', 'PX', ARGV[7]) then
  return 1
end
return 0
"""


# A request's token checked against the chat it names, in one step: it counts the `first`
# windows (a refusal stops there), then finds the chat the token opens; only when that is the
# named chat, and the chat is still there, does it count the `then` windows (their refusal is
# answered, not acted on) and read the chat. KEYS: the token's key, the chat's hash, the first
# windows' keys, then the others'; ARGV: the chat id, how many first windows, then every
# window's pair (chatbridge.ratelimit.window_args).
_OPEN_SCRIPT = (
    WINDOWS_LUA
    + """
local first = tonumber(ARGV[2])
local refused, ttl = hit_windows(3, 3, first)
if refused > 0 then return {'limited', refused, ttl} end
local owner = redis.call('GET', KEYS[1])
if not owner then return {'unknown'} end
if owner ~= ARGV[1] then return {'other'} end
local chat = redis.call('HGETALL', KEYS[2])
if #chat == 0 then return {'unknown'} end
refused, ttl = hit_windows(3 + first, 3 + 2 * first, #KEYS - 2 - first)
return {'opened', refused, ttl, chat}
"""
)


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """What a session token opens, checked against the chat `chat_id` a request names.

    `record` is that chat's hash when the token opens it (SessionStore.session_of makes the
    session of it, where the caller answers for a record it cannot read), None otherwise;
    `elsewhere` says the token opens another chat, which was not read. `refusal` is the `then`
    windows' answer, for the caller to raise when it acts on the chat."""

    chat_id: str
    record: dict[bytes, bytes] | None = field(default=None, repr=False)
    elsewhere: bool = False
    refusal: Refusal | None = None

    @property
    def opened(self) -> bool:
        return self.record is not None


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _time(value: bytes | None) -> datetime | None:
    return datetime.fromisoformat(value.decode()) if value else None


class SessionStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        box: TokenBox,
        *,
        prefix: str,
        ended_ttl: int,
    ) -> None:
        self._redis = redis
        self._box = box
        self._keys = RedisKeys(prefix)
        self._ended_ttl = ended_ttl
        self._end_script = redis.register_script(_END_SCRIPT)
        self._create_script = redis.register_script(_CREATE_SCRIPT)
        self._open_script = redis.register_script(_OPEN_SCRIPT)

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

    @property
    def keys(self) -> RedisKeys:
        return self._keys

    @property
    def active_key(self) -> str:
        """The set of chats that have not ended: each needs an upstream somewhere."""
        return self._keys.active

    async def active_chat_ids(self) -> list[str]:
        return [chat_id.decode() async for chat_id in self._redis.sscan_iter(self.active_key)]

    async def create(
        self,
        *,
        contact: StartedContact,
        connection: ParticipantConnection | None,
        display_name: str,
        widget_id: str,
        lifetime: timedelta,
        instance_id: str = "",
        region: str = "",
        customer_key: str = "",
        continued_from: str = "",
        lease_owner: str = "",
        lease_ttl_ms: int = 0,
        connecting_as: str = "",
    ) -> StartedChat:
        """Stores a new chat, issues a session token for it and adds it to the feed, in one
        round trip to Redis; given `lease_owner`, the same round trip claims the lease on the
        chat's upstream for it (chatbridge.realtime.leases; StartedChat.leased).

        A chat stored without its `connection` (still on its way from Connect) needs one
        before any call: the same round trip takes the chat's refresh lock under the token
        `connecting_as`, so that every other caller waits for the connection on its way
        (first_connection_lock) rather than asking Connect for another.

        If the contact already has a chat (a retried start), the token opens that chat, which
        is published again, and neither lease nor lock is taken.
        """
        now = _now()
        ttl = int(lifetime.total_seconds())
        session = ChatSession(
            chat_id=uuid.uuid4().hex,
            contact_id=contact.contact_id,
            participant_id=contact.participant_id,
            participant_token=contact.participant_token,
            connection_token=connection.connection_token if connection else "",
            connection_expires_at=connection.connection_expires_at if connection else _NEVER,
            generation=1 if connection else 0,
            status=ChatStatus.ACTIVE,
            display_name=display_name,
            widget_id=widget_id,
            created_at=now,
            expires_at=now + lifetime,
            instance_id=instance_id,
            region=region,
            customer_key=customer_key,
            continued_from=continued_from,
        )
        token = new_session_token()
        digest = hash_session_token(token)
        fields = [item for pair in self._encode(session).items() for item in pair]
        existing = await self._create_script(
            keys=[
                self._keys.chat(session.chat_id),
                self._keys.contact(contact.contact_id),
                self.active_key,
                self._keys.session_token(digest),
                self._keys.chat(session.chat_id, "tokens"),
                self._keys.feed,
                self._keys.chat(session.chat_id, "lease"),
                self._refresh_key(session.chat_id),
            ],
            args=[
                ttl,
                session.chat_id,
                digest,
                FEED_MAXLEN,
                ChatMeta.from_session(session).to_json(),
                lease_owner,
                lease_ttl_ms,
                connecting_as if connection is None else "",
                int(REFRESH_LOCK_TTL * 1000),
                *fields,
            ],
        )
        if not isinstance(existing, bytes):
            return StartedChat(session=session, session_token=token, leased=existing == 1)
        session = await self.load(existing.decode())
        token = await self._issue_token(session, ttl)
        await self.publish(session)
        return StartedChat(session=session, session_token=token, created=False)

    async def _issue_token(self, session: ChatSession, ttl: int) -> str:
        token = new_session_token()
        digest = hash_session_token(token)
        tokens_key = self._keys.chat(session.chat_id, "tokens")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.session_token(digest), session.chat_id, ex=ttl)
            pipe.sadd(tokens_key, digest)
            pipe.expire(tokens_key, ttl)
            await pipe.execute()
        return token

    async def load(self, chat_id: str) -> ChatSession:
        data = await self._redis.hgetall(self._keys.chat(chat_id))
        if not data:
            raise UnknownChat()
        return self._decode(chat_id, data)

    async def widget_id(self, chat_id: str) -> str | None:
        """The chat's widget, without decrypting anything; None for an unknown chat."""
        widget_id = await self._redis.hget(self._keys.chat(chat_id), "widget_id")
        return widget_id.decode() if widget_id is not None else None

    async def publish(self, session: ChatSession) -> None:
        """Adds the chat's metadata to the feed, for the archive and webhooks."""
        await publish_chat(self._redis, session, feed=self._keys.feed)

    async def authenticate(self, session_token: str) -> ChatSession:
        """The chat a session token opens; UnknownChat if none (revoked, expired, made up)."""
        if not isinstance(session_token, str) or not session_token:
            raise UnknownChat()
        chat_id = await self._redis.get(self._keys.session_token(hash_session_token(session_token)))
        if chat_id is None:
            raise UnknownChat()
        return await self.load(chat_id.decode())

    async def check_token(
        self,
        session_token: str,
        chat_id: str,
        *,
        first: Sequence[Window] = (),
        then: Sequence[Window] = (),
    ) -> TokenCheck:
        """authenticate() for a request that names `chat_id`, in one round trip with the
        request's rate limits: the `first` windows counted before anything (RateLimited by the
        first over its limit, as chatbridge.ratelimit.hit_all), the `then` windows counted
        only for a token that opens `chat_id`. A REST request paid a round trip for each."""
        digest = hash_session_token(session_token)
        answer = await self._open_script(
            keys=[
                self._keys.session_token(digest),
                self._keys.chat(chat_id),
                *(window.key for window in first),
                *(window.key for window in then),
            ],
            args=[chat_id, len(first), *window_args(first), *window_args(then)],
        )
        outcome = answer[0].decode()
        if outcome == "limited":
            over = refusal(first, answer[1], answer[2])
            if over is not None:
                raise over.error()
        if outcome in ("unknown", "limited"):
            return TokenCheck(chat_id)
        if outcome == "other":
            return TokenCheck(chat_id, elsewhere=True)
        flat = answer[3]
        return TokenCheck(
            chat_id,
            record=dict(zip(flat[::2], flat[1::2], strict=True)),
            refusal=refusal(then, answer[1], answer[2]),
        )

    def session_of(self, check: TokenCheck) -> ChatSession:
        """The chat a check_token() opened; UnknownChat if it opened none."""
        if check.record is None:
            raise UnknownChat()
        return self._decode(check.chat_id, check.record)

    async def revoke(self, session_token: str) -> None:
        digest = hash_session_token(session_token)
        chat_id = await self._redis.getdel(self._keys.session_token(digest))
        if chat_id is not None:
            await self._redis.srem(self._keys.chat(chat_id.decode(), "tokens"), digest)

    async def save_connection(
        self, session: ChatSession, connection: ParticipantConnection
    ) -> ChatSession:
        """Replaces the connection token; callers hold the chat's refresh lock."""
        chat_key = self._keys.chat(session.chat_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                chat_key,
                mapping={
                    "connection_token": self._box.seal(connection.connection_token),
                    "connection_expires_at": _iso(connection.connection_expires_at),
                },
            )
            pipe.hincrby(chat_key, "generation", 1)
            _, generation = await pipe.execute()
        return replace(
            session,
            connection_token=connection.connection_token,
            connection_expires_at=connection.connection_expires_at,
            generation=generation,
        )

    async def mark_ended(self, session: ChatSession, reason: str) -> ChatSession:
        """Ends the chat (idempotently: the first reason is kept) and shortens its keys' TTL."""
        await self._end_script(
            keys=[
                self._keys.chat(session.chat_id),
                self._keys.contact(session.contact_id),
                self._keys.chat(session.chat_id, "tokens"),
                self.active_key,
            ],
            args=[
                _iso(_now()),
                reason,
                self._ended_ttl,
                self._keys.session_token(""),
                session.chat_id,
            ],
        )
        try:
            return await self.load(session.chat_id)
        except UnknownChat:
            return replace(session, status=ChatStatus.ENDED, ended_reason=reason)

    async def note_ending(self, chat_id: str, reason: str, ttl: int = 60) -> None:
        """Says why the chat is about to end, for whichever process records the end."""
        await self._redis.set(self._keys.chat(chat_id, "ending"), reason, ex=ttl)

    async def noted_ending(self, chat_id: str) -> str | None:
        reason = await self._redis.get(self._keys.chat(chat_id, "ending"))
        return reason.decode() if reason else None

    def refresh_lock(self, chat_id: str) -> KeptLock:
        """Serialises connection refreshes of one chat across every process. Held across
        the refresh's wait for Connect's budget, however long; lapses within
        REFRESH_LOCK_TTL of a holder's death."""
        return KeptLock(
            self._redis,
            self._refresh_key(chat_id),
            ttl=REFRESH_LOCK_TTL,
            blocking_timeout=REFRESH_LOCK_WAIT,
        )

    def first_connection_lock(self, chat_id: str, token: str) -> KeptLock:
        """The refresh lock that `create` took for a chat stored without its connection,
        under `token`: kept, then released, by whoever saves the connection on its way."""
        return KeptLock(
            self._redis,
            self._refresh_key(chat_id),
            ttl=REFRESH_LOCK_TTL,
            blocking_timeout=REFRESH_LOCK_WAIT,
            held_as=token,
        )

    def _refresh_key(self, chat_id: str) -> str:
        return self._keys.chat(chat_id, "refresh")

    def _encode(self, session: ChatSession) -> dict[str, bytes | str | int]:
        return {
            "contact_id": session.contact_id,
            "participant_id": session.participant_id,
            "participant_token": self._box.seal(session.participant_token),
            "connection_token": self._box.seal(session.connection_token),
            "connection_expires_at": _iso(session.connection_expires_at),
            "generation": session.generation,
            "status": session.status.value,
            "display_name": session.display_name,
            "widget_id": session.widget_id,
            "created_at": _iso(session.created_at),
            "expires_at": _iso(session.expires_at),
            "ended_at": _iso(session.ended_at),
            "ended_reason": session.ended_reason,
            "instance_id": session.instance_id,
            "region": session.region,
            "customer_key": session.customer_key,
            "continued_from": session.continued_from,
        }

    def _decode(self, chat_id: str, data: dict[bytes, bytes]) -> ChatSession:
        def text(name: str) -> str:
            return data.get(name.encode(), b"").decode()

        return ChatSession(
            chat_id=chat_id,
            contact_id=text("contact_id"),
            participant_id=text("participant_id"),
            participant_token=self._box.open(data[b"participant_token"]),
            connection_token=self._box.open(data[b"connection_token"]),
            connection_expires_at=_time(data.get(b"connection_expires_at")),
            generation=int(text("generation") or 1),
            status=ChatStatus(text("status")),
            display_name=text("display_name"),
            widget_id=text("widget_id"),
            created_at=_time(data.get(b"created_at")),
            expires_at=_time(data.get(b"expires_at")),
            ended_at=_time(data.get(b"ended_at")),
            ended_reason=text("ended_reason"),
            instance_id=text("instance_id"),
            region=text("region"),
            customer_key=text("customer_key"),
            continued_from=text("continued_from"),
        )


def session_store() -> SessionStore:
    """The session store of the running event loop, built from settings."""
    return SessionStore(
        get_redis(),
        get_token_box(),
        prefix=settings.CHATBRIDGE_REDIS_PREFIX,
        ended_ttl=settings.CHATBRIDGE_ENDED_SESSION_TTL,
    )
