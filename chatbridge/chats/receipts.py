"""At most one receipt per chat waits for the shared Connect budget.

Receipts cost SendEvent calls, the budget gives them a low priority, and a customer reading a
busy chat produces many. So while one receipt of a chat is being sent (possibly waiting for a
token), the next ones do not queue behind it one by one: they share one pending place in
Redis, where a later receipt replaces an earlier one (a read receipt replaces a delivered
one; a delivered receipt never replaces a read one). Whoever sends a chat's receipts (the
holder of the sender key, in any process) sends the pending one next. The sender key expires,
so a process that dies while sending does not strand the chat's receipts.
"""

import enum
from collections.abc import Awaitable, Callable

from chatbridge.redis import get_redis, keys


class ReceiptOutcome(enum.StrEnum):
    SENT = "sent"  # this call sent it
    QUEUED = "queued"  # another call, sending this chat's receipts, sends it next
    SKIPPED = "skipped"  # already sent, or a pending read receipt makes it moot


# KEYS: pending (hash kind, message), sender. ARGV: kind, message id, ttl ms.
_OFFER = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('HGET', KEYS[1], 'kind') == 'read' and ARGV[1] == 'delivered' then
    return 'skipped'
  end
  redis.call('HSET', KEYS[1], 'kind', ARGV[1], 'message', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 'queued'
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
return 'send'
"""

# KEYS: pending, sender. ARGV: ttl ms. The pending receipt, taken; if none, the sender leaves.
_NEXT = """
local pending = redis.call('HMGET', KEYS[1], 'kind', 'message')
redis.call('DEL', KEYS[1])
if not pending[1] then
  redis.call('DEL', KEYS[2])
  return false
end
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return pending
"""


async def send_coalesced(
    chat_id: str,
    kind: str,
    message_id: str,
    send: Callable[[str, str], Awaitable[object]],
    *,
    ttl: float,
) -> ReceiptOutcome:
    """Sends a receipt with `send(kind, message_id)`, or leaves it pending for the chat's
    current sender. `ttl`: seconds a sender may take per receipt before another may start."""
    redis = get_redis()
    pending_key = keys().chat(chat_id, "receipt-pending")
    sender_key = keys().chat(chat_id, "receipt-sender")
    ttl_ms = int(ttl * 1000)
    offer = await redis.register_script(_OFFER)(
        keys=[pending_key, sender_key], args=[kind, message_id, ttl_ms]
    )
    outcome = offer.decode() if isinstance(offer, bytes) else offer
    if outcome != "send":
        return ReceiptOutcome(outcome)
    take_next = redis.register_script(_NEXT)
    try:
        await send(kind, message_id)
        while pending := await take_next(keys=[pending_key, sender_key], args=[ttl_ms]):
            await send(pending[0].decode(), pending[1].decode())
    except BaseException:
        await redis.delete(pending_key, sender_key)
        raise
    return ReceiptOutcome.SENT
