"""A static file server on 127.0.0.1 for tests that load the widget's modules in a browser.

It serves the repository's static/ at /static/ and a test directory at /harness/, from one
origin, as ES modules need: nothing else, and nothing that Django would add.
"""

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


class MountedFiles(SimpleHTTPRequestHandler):
    """Serves files from a directory per URL prefix; everything else is not found."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".html": "text/html; charset=utf-8",
    }

    def __init__(self, *args, mounts: Mapping[str, Path], **kwargs) -> None:
        self.mounts = mounts
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        path = unquote(urlsplit(path).path)
        for prefix, directory in self.mounts.items():
            if path.startswith(prefix):
                target = (directory / path[len(prefix) :]).resolve()
                if target.is_relative_to(directory.resolve()):
                    return str(target)
        return str(Path("/nonexistent") / "not-found")

    def end_headers(self) -> None:
        # A module edited between two runs in one browser must not come from its cache.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a test run's output is the tests'."""


@contextmanager
def serving(mounts: Mapping[str, Path]) -> Iterator[str]:
    """Serves the mounts on a free port of 127.0.0.1 in a thread; yields the base URL."""
    handler = partial(MountedFiles, mounts=mounts)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="static-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
