"""How many members a channel layer group has: the one place that reads channels_redis's
internals.

The relay rings other processes through a chat's group only when one of them follows the
chat: a group_send to a group of this process alone is a round trip per event whose copy
nobody reads. Channels' API cannot tell a group's size, but channels_redis keeps each group as
a sorted set of its channels, under the key its private `_group_key` names, on the shard its
`consistent_hash` picks, reached through `connection(shard)`: one ZCARD counts it. When the
layer lives in the event log's Redis, the log's append script counts it in passing.

Should a channels_redis upgrade rename or drop these, the count falls back to "unknown" and
the relay rings every group through group_send: correct, and slower. That is logged once per
process, as a warning.
"""

import functools
import logging
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

_REDIS_LAYER = "channels_redis.core.RedisChannelLayer"


def layer_shares_redis() -> bool:
    """Whether the channel layer is channels_redis on the one Redis that REDIS_URL names (the
    usual set-up), so that the event log's append can count a group's members."""
    layer = settings.CHANNEL_LAYERS.get("default", {})
    hosts = layer.get("CONFIG", {}).get("hosts") or []
    return (
        layer.get("BACKEND") == _REDIS_LAYER
        and len(hosts) == 1
        and isinstance(hosts[0], dict)
        and hosts[0].get("address") == settings.REDIS_URL
    )


@functools.cache
def _fell_back(layer_type: str) -> None:
    logger.warning(
        "%s offers no group keys (channels_redis changed?): every event is sent to its chat's "
        "channel layer group, followed elsewhere or not",
        layer_type,
    )


class LayerGroups:
    """The members of a channel layer's groups, counted in the layer's Redis."""

    __slots__ = ("_key_of", "_connection", "_shard_of", "_on_log_redis")

    def __init__(self, layer: Any, *, on_log_redis: bool = False) -> None:
        key_of = getattr(layer, "_group_key", None)
        connection = getattr(layer, "connection", None)
        shard_of = getattr(layer, "consistent_hash", None)
        if not (callable(key_of) and callable(connection) and callable(shard_of)):
            _fell_back(f"{type(layer).__module__}.{type(layer).__qualname__}")
            key_of = connection = shard_of = None
        self._key_of = key_of
        self._connection = connection
        self._shard_of = shard_of
        self._on_log_redis = on_log_redis and key_of is not None

    def key(self, group: str) -> bytes | None:
        """The Redis key of the group's sorted set of channels; None in the fallback."""
        return self._key_of(group) if self._key_of is not None else None

    def key_on_log_redis(self, group: str) -> bytes | None:
        """The group's key for the event log's append to count, if the layer keeps it in the
        log's Redis; else None."""
        return self._key_of(group) if self._on_log_redis else None

    async def count(self, groups: Iterable[str]) -> dict[str, int]:
        """The number of members of each group it could count: one pipelined ZCARD per shard.
        A group left out is unknown (the fallback, or its shard failed)."""
        if self._key_of is None:
            return {}
        by_shard: dict[int, list[str]] = {}
        for group in groups:
            by_shard.setdefault(self._shard_of(group), []).append(group)
        counted: dict[str, int] = {}
        for shard, shard_groups in by_shard.items():
            try:
                members = await _zcards(
                    self._connection(shard), [self._key_of(group) for group in shard_groups]
                )
            except Exception:
                logger.exception("could not count the members of %d groups", len(shard_groups))
                continue
            counted.update(zip(shard_groups, members, strict=True))
        return counted


async def _zcards(redis: aioredis.Redis, keys: list[bytes]) -> list[int]:
    """ZCARD of each key; one plain call for one key (the usual case), else a pipeline."""
    if len(keys) == 1:
        return [await redis.zcard(keys[0])]
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.zcard(key)
        return await pipe.execute()
