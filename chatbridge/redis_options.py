"""Connection options shared by every Redis client of ChatBridge (its own and Channels').

redis-py does not retry a command whose connection broke unless told to. With these options
a Redis restart or failover costs a short wait instead of a crashed consumer: the command is
retried on a fresh connection with a jittered exponential backoff.
"""

from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError

# About 12 s in all before giving up: longer than a restart, shorter than a client's patience.
RETRIES = 8


def redis_options() -> dict[str, Any]:
    return {
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=3.0), RETRIES),
        "retry_on_error": [ConnectionError, TimeoutError],
        "health_check_interval": 30,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
    }


def channel_layer_hosts(url: str) -> list[dict[str, Any]]:
    """channels_redis host entries for a Redis URL, with the same resilience."""
    return [{"address": url, **redis_options()}]
