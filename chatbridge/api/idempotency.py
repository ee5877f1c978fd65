"""Idempotency-Key handling: a retried request gets the first answer and does nothing twice.

The key itself becomes Connect's ClientToken (Connect de-duplicates the call); Redis keeps a
fingerprint of the first request, so the same key with a different request is refused (409),
and its result, so a retry is answered without calling Connect at all.

A chat start's key is also what finds the chat again: whoever sends the same key (and body)
gets a session token for the chat it started. Anonymous customers of a widget share one scope,
so a start's key must be unguessable: a random UUID (version 4, 122 random bits), never an
order number. A verified identity narrows the scope to its own subject, so the same key from
another identity starts a chat of its own.
"""

import hashlib
import json
import re
from typing import Any

from chatbridge.api.problems import IdempotencyConflict, IdempotencyKeyWeak
from chatbridge.connect.budget import CountedLimits
from chatbridge.errors import InvalidInput
from chatbridge.redis import get_redis, keys

MAX_KEY_LENGTH = 255
RECORD_TTL = 24 * 3600
# A UUID version 4 in its canonical 8-4-4-4-12 form (RFC 9562), either case; also the OpenAPI
# pattern of a start's Idempotency-Key.
UUID4_PATTERN = (
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)
_UUID4 = re.compile(UUID4_PATTERN.removeprefix("^").removesuffix("$"))


def check_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_KEY_LENGTH or not value.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
            field="Idempotency-Key",
        )
    return value


def check_start_key(value: str | None) -> str | None:
    """A chat start's key: a UUID version 4, lower-cased, so that a retry that spells it in
    capitals still meets the first start. Anything else is IdempotencyKeyWeak (422)."""
    if value is None:
        return None
    if not _UUID4.fullmatch(value):
        raise IdempotencyKeyWeak(field="Idempotency-Key")
    return value.lower()


def start_scope(widget_id: str, subject: str) -> str:
    """The scope of a start's key: the widget and the verified identity's subject ("" for an
    anonymous customer)."""
    return digest(widget_id, subject)


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def fingerprint(request_body: Any) -> str:
    return digest(json.dumps(request_body, sort_keys=True, separators=(",", ":"), default=str))


# KEYS: the record. ARGV: the request's fingerprint, the record's TTL. Claims the key for
# this request unless a request claimed it before; answers the record, in one round trip.
_CLAIM_FUNCTION = """
local function claim()
  if redis.call('HSETNX', KEYS[1], 'fingerprint', ARGV[1]) == 1 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
  end
  return redis.call('HGETALL', KEYS[1])
end
"""
_CLAIM = _CLAIM_FUNCTION + "return claim()\n"
# KEYS: the record, then the caller's limits' (CountedLimits). ARGV: _CLAIM's two, then the
# limits'. Counts the limits first: over one of them, answers {its 1-based place among them,
# its ms left} and claims nothing; else {0, 0, _CLAIM's answer}.
_COUNT_AND_CLAIM_TAIL = (
    _CLAIM_FUNCTION
    + """
local refused, ttl = hit_windows(2, 3, #KEYS - 1)
if refused > 0 then return {refused, ttl} end
return {0, 0, claim()}
"""
)


class IdempotencyRecord:
    """The Redis record of one Idempotency-Key in one scope (a chat's sends, chat starts)."""

    def __init__(self, scope: str, idempotency_key: str, request_fingerprint: str) -> None:
        self._key = keys().api("idem", scope, digest(idempotency_key))
        self._fingerprint = request_fingerprint

    async def claim(self, limits: CountedLimits | None = None) -> dict[str, Any] | None:
        """Records this request under the key; the stored result of an earlier one, if any.
        `limits` not counted yet are counted first, in the same round trip: over one of them,
        its refusal is raised and nothing is claimed.

        Raises IdempotencyConflict if the key was used for a different request.
        """
        args = [self._fingerprint, RECORD_TTL]
        if limits is not None and not limits.counted:
            limits.counted = True
            claim = get_redis().register_script(limits.lua + _COUNT_AND_CLAIM_TAIL)
            answer = await claim(keys=[self._key, *limits.keys], args=[*args, *limits.args])
            if int(answer[0]):
                raise limits.refuse(int(answer[0]), int(answer[1]))
            flat = answer[2]
        else:
            flat = await get_redis().register_script(_CLAIM)(keys=[self._key], args=args)
        stored = dict(zip(flat[::2], flat[1::2], strict=True))
        if stored.get(b"fingerprint", b"").decode() != self._fingerprint:
            raise IdempotencyConflict()
        result = stored.get(b"result")
        return json.loads(result) if result else None

    async def save(self, result: dict[str, Any]) -> None:
        await get_redis().hset(self._key, "result", json.dumps(result, default=str))
