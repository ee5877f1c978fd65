"""The client's address, as every per-address limit keys on it (REST, websocket, admin login).

Each reverse proxy appends the address it received the request from to X-Forwarded-For, so
only the rightmost CHATBRIDGE_API_TRUSTED_PROXIES entries were written by proxies we trust;
anything to their left came from the client and would let it pick its own limit key. With
fewer entries than proxies the header was not written as expected, so the peer's address
(the nearest proxy) is used rather than a guess.
"""

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest

UNKNOWN = "unknown"


def forwarded_address(forwarded_for: str, peer: str | None) -> str:
    """The client's IP as the outermost trusted proxy saw it, or the peer without proxies."""
    proxies = settings.CHATBRIDGE_API_TRUSTED_PROXIES
    if proxies > 0:
        hops = [hop.strip() for hop in forwarded_for.split(",")]
        if len(hops) >= proxies and hops[-proxies]:
            return hops[-proxies][:64]
    return peer or UNKNOWN


def request_address(request: HttpRequest) -> str:
    """The client address of a Django request."""
    return forwarded_address(
        request.headers.get("X-Forwarded-For", ""), request.META.get("REMOTE_ADDR")
    )


def scope_address(scope: Mapping[str, Any]) -> str:
    """The client address of an ASGI scope (a websocket's). Repeated X-Forwarded-For headers
    are joined in order, as Django joins them for a request."""
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or ()
    forwarded = ",".join(
        value.decode("latin-1") for name, value in headers if name.lower() == b"x-forwarded-for"
    )
    client = scope.get("client")
    peer = str(client[0]) if client else None
    return forwarded_address(forwarded, peer)


def address_digest(address: str) -> str:
    """The address as it appears in Redis key names: hashed, so keys carry no addresses."""
    return hashlib.sha256(address.encode()).hexdigest()[:32]
