"""A webhook receiver on 127.0.0.1 for tests, over HTTP or HTTPS (certificates: tests.support.tls).

The receiver records every request (its request line, headers, body and, over TLS, the server
name the client asked for) and answers from a script: failures first, then success, or a
redirect elsewhere.
"""

import asyncio
import ssl


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that fails its first `failures` calls with 500, or
    answers every call with a redirect to `redirect_to`; over TLS when given `tls`."""

    def __init__(
        self,
        failures: int = 0,
        *,
        redirect_to: str | None = None,
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.failures = failures
        self.redirect_to = redirect_to
        self.tls = tls
        self.host = host
        self.calls: list[dict] = []
        self.server_names: list[str | None] = []
        self.arrived: asyncio.Queue[dict] = asyncio.Queue()
        if tls is not None:
            tls.sni_callback = self._record_server_name

    def _record_server_name(self, _sock: object, name: str | None, _context: object) -> None:
        self.server_names.append(name)

    async def __aenter__(self) -> "Receiver":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        scheme = "https" if self.tls is not None else "http"
        self.url = f"{scheme}://{self.host}:{self.port}/hooks"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ": " in line:
                name, value = line.split(": ", 1)
                headers[name.lower()] = value
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        failing = len(self.calls) < self.failures
        call = {"request_line": lines[0], "headers": headers, "body": body, "failed": failing}
        self.calls.append(call)
        if self.redirect_to is not None:
            status = b"302 Found\r\nLocation: " + self.redirect_to.encode()
        elif failing:
            status = b"500 Internal Server Error"
        else:
            status = b"204 No Content"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        await self.arrived.put(call)

    async def next_call(self) -> dict:
        return await asyncio.wait_for(self.arrived.get(), 15)
