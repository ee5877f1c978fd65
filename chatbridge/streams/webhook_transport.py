"""The webhook delivery's HTTP transport: it connects only to addresses the policy accepted.

Judging a URL's host and then letting the HTTP client resolve it again would leave a gap: a
name can answer a public address to the check and 127.0.0.1 to the connection a moment later
(DNS rebinding). So the judging happens where the connection is made. httpcore, the engine
under httpx, lets a connection pool take a network backend (its documented extension point for
custom DNS); `CheckedBackend` is one that, for each new connection:

1. resolves the host name once, through an injectable resolver (`system_resolver` by default);
2. judges every address of the answer (webwidget.webhook_targets): one refused address refuses
   the target, before anything connects;
3. connects to the judged addresses, in the resolver's order, by address: nothing is
   resolved again.

The pool itself still knows the URL's host name, so the ``Host`` header, TLS's SNI and the
certificate's check are all for that name, as with any other httpx request. httpx's
AsyncHTTPTransport cannot take a network backend, so `CheckedTransport` is the small httpx
transport around such a pool. The client that uses it must not follow redirects (httpx
doesn't by default): a redirect's target was never judged.

A refused target raises webwidget.webhook_targets.TargetRefused, which no retry can mend.
"""

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from ipaddress import ip_address
from typing import Any

import httpcore
import httpx

from webwidget.webhook_targets import (
    IPAddress,
    TargetRefused,
    allowed_targets,
    check_address,
    check_host,
    parse_literal,
)

# Resolves a host name for a port to its addresses, in the order to try them.
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The operating system's answer (getaddrinfo), in its order, each address once."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ip_address(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
    return addresses


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, behind the webhook target policy (see the module's doc)."""

    def __init__(self, resolver: Resolver = system_resolver) -> None:
        self._resolver = resolver
        self._network = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.checked_addresses(host, port, timeout)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._network.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def checked_addresses(
        self, host: str, port: int, timeout: float | None = None
    ) -> list[IPAddress]:
        """Every address `host` resolves to, each accepted by the policy; TargetRefused if any
        is not (an answer that mixes public and private addresses is not to be trusted)."""
        allow = allowed_targets()
        literal = parse_literal(host)
        if literal is not None:
            return [check_address(literal, host=host, allow=allow)]
        check_host(host, allow=allow)
        try:
            async with asyncio.timeout(timeout):
                answer = await self._resolver(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"Resolving {host} timed out.") from None
        except OSError as error:
            raise httpcore.ConnectError(f"Resolving {host} failed: {error}") from None
        if not answer:
            raise httpcore.ConnectError(f"{host} resolves to no address.")
        return [check_address(address, host=host, allow=allow) for address in answer]

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("Webhooks go over TCP only.", code="webhook_address_refused")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


# httpcore's errors as httpx's, most specific first (what httpx's own transport does).
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        for core, mapped in _ERRORS:
            if isinstance(error, core):
                raise mapped(str(error)) from error
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        with _httpx_errors():
            await self._stream.aclose()


DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class CheckedTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose connections are opened by a `CheckedBackend`."""

    def __init__(
        self,
        *,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
