"""A host site on a loopback https origin of its own, serving one page, the way a shop's site
embeds the widget from ChatBridge's origin. Browsers let a page reach loopback only from
loopback (private network access), so the site cannot be a routed, made-up public name.
"""

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chatbridge.dev.tls import Certificates


@dataclass
class HttpsPage:
    """The site's origin once it serves, and the page it answers with (a test sets it)."""

    origin: str = ""
    html: str = "<!doctype html><title>Empty</title>"


@contextmanager
def serving_page(certificates: Certificates) -> Iterator[HttpsPage]:
    """A server on 127.0.0.1 answering every GET with `page.html`, until the block ends."""
    page = HttpsPage()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            data = page.html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.certificate, certificates.key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    page.origin = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield page
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
