"""Which address the per-address limits key on (REST, websocket, admin login), with and without
proxies."""

import pytest
from django.test import RequestFactory

from chatbridge.addresses import request_address as client_address
from chatbridge.addresses import scope_address

PEER = "10.0.0.9"


def request(forwarded: str | None = None):
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    return RequestFactory().get("/api/v1/widgets/shop", REMOTE_ADDR=PEER, headers=headers)


@pytest.mark.parametrize("forwarded", [None, "203.0.113.7", "1.2.3.4, 203.0.113.7"])
def test_without_trusted_proxies_the_header_is_ignored(settings, forwarded):
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 0
    assert client_address(request(forwarded)) == PEER


def test_one_proxy_ignores_a_spoofed_leftmost_entry(settings):
    """The client sent "1.2.3.4"; the proxy appended the address it really came from."""
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 1
    assert client_address(request("1.2.3.4, 203.0.113.7")) == "203.0.113.7"
    assert client_address(request("203.0.113.7")) == "203.0.113.7"


def test_two_proxies_take_the_address_the_outer_one_saw(settings):
    """The outer proxy appended the client; the inner one appended the outer proxy."""
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 2
    assert client_address(request("1.2.3.4,203.0.113.7, 192.0.2.10")) == "203.0.113.7"


@pytest.mark.parametrize("forwarded", [None, "", "192.0.2.10"])
def test_too_few_entries_fall_back_to_the_peer(settings, forwarded):
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 2
    assert client_address(request(forwarded)) == PEER


def test_an_empty_entry_falls_back_to_the_peer(settings):
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 1
    assert client_address(request("203.0.113.7, ")) == PEER


def scope(*forwarded: str, client: tuple[str, int] | None = (PEER, 50000)) -> dict:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"type": "websocket", "headers": [(b"origin", b"http://x"), *headers], "client": client}


def test_a_websocket_takes_the_address_by_the_same_rule(settings):
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 1
    assert scope_address(scope("1.2.3.4, 203.0.113.7")) == "203.0.113.7"


def test_a_websocket_without_trusted_proxies_is_its_peer(settings):
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 0
    assert scope_address(scope("203.0.113.7")) == PEER


def test_repeated_forwarded_headers_count_as_one_list(settings):
    """A proxy may add its own header line instead of appending: the last line is its."""
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 1
    assert scope_address(scope("1.2.3.4", "203.0.113.7")) == "203.0.113.7"


def test_a_websocket_without_a_peer_or_header_is_unknown(settings):
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 1
    assert scope_address(scope(client=None)) == "unknown"
