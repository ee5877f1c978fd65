"""A guard that keeps a test's traffic on loopback, whatever the code under test does.

Tests of the webhook target policy hand the delivery addresses it must refuse. If the code
were wrong, it would connect to them: the guard makes every connect to anything but
127.0.0.0/8 or ::1 fail before the socket is touched, and every name lookup other than of a
written-out address or ``localhost`` fail before any DNS query, and records each attempt so
that the test fails even when the code swallows the error.
"""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_address

LOOKUPS_ALLOWED = {None, "localhost"}


def is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    try:
        address = ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def _is_literal(host: object) -> bool:
    try:
        ip_address(host.decode() if isinstance(host, bytes) else str(host))
    except ValueError:
        return False
    return True


@contextmanager
def loopback_only() -> Iterator[list[str]]:
    """Patches socket.socket.connect/connect_ex and socket.getaddrinfo (which asyncio's and
    anyio's lookups go through) for the duration; yields the list of refused attempts."""
    refused: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: object) -> None:
        if sock.family == socket.AF_UNIX:
            return
        host = address[0] if isinstance(address, tuple) else address
        if not is_loopback(host):
            refused.append(f"connect to {address!r}")
            raise PermissionError(f"The test guard refused a connection to {address!r}")

    def connect(sock: socket.socket, address: object) -> None:
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: object) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if host not in LOOKUPS_ALLOWED and not _is_literal(host):
            refused.append(f"lookup of {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"The test guard refused to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
    try:
        yield refused
    finally:
        socket.socket.connect = real_connect
        socket.socket.connect_ex = real_connect_ex
        socket.getaddrinfo = real_getaddrinfo
