"""Static files as production serves them: collected, hashed, gzipped, by daphne itself.

Every case asks a daphne started with the documented production environment (DEBUG off),
whose static files were collected the way the image build collects them.
"""

import json
import re
from urllib.parse import urljoin

import httpx
import pytest

from tests.support.production import ProductionServer

HASHED = re.compile(r"\.[0-9a-f]{12}\.(js|css)$")
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture(scope="module")
def client(production_server: ProductionServer) -> httpx.Client:
    with httpx.Client(base_url=production_server.url, timeout=30) as client:
        yield client


def manifest(server: ProductionServer) -> dict[str, str]:
    return json.loads((server.static_root / "staticfiles.json").read_text())["paths"]


def links(html: str, attribute: str) -> list[str]:
    return re.findall(rf'{attribute}="(/static/[^"]+)"', html)


def assert_cached_forever(response: httpx.Response) -> None:
    assert response.status_code == 200, response.url
    assert HASHED.search(response.url.path), response.url
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=315360000" in response.headers["Cache-Control"]


def test_the_admin_is_styled_by_hashed_stylesheets_cached_forever(client):
    page = client.get("/admin/login/")
    stylesheets = links(page.text, "href")

    assert any("/static/admin/css/base." in url for url in stylesheets), stylesheets
    for url in stylesheets:
        response = client.get(url, headers=IDENTITY)
        assert_cached_forever(response)
        assert response.headers["Content-Type"].startswith("text/css")


def test_the_transcript_viewers_files_are_served(client, production_server):
    paths = manifest(production_server)

    for name in ("archive/transcript.js", "archive/transcript.css", "archive/print.css"):
        assert_cached_forever(client.get(f"/static/{paths[name]}", headers=IDENTITY))


def test_the_loader_keeps_its_url_is_cached_briefly_and_revalidated(client):
    first = client.get("/static/webwidget/loader.js", headers=IDENTITY)

    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("text/javascript")
    assert first.headers["Cache-Control"] == "max-age=300, public"
    again = client.get(
        "/static/webwidget/loader.js", headers={**IDENTITY, "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_host_pages_may_load_the_loader_across_origins(client):
    response = client.get("/static/webwidget/loader.js")

    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_files_travel_gzipped_to_browsers_that_accept_it(client, production_server):
    hashed_app = "/static/" + manifest(production_server)["webwidget/frame/app.js"]
    for url in ("/static/webwidget/loader.js", hashed_app):
        plain = client.get(url, headers=IDENTITY)
        packed = client.get(url, headers={"Accept-Encoding": "gzip"})

        assert "Content-Encoding" not in plain.headers
        assert packed.headers["Content-Encoding"] == "gzip"
        assert int(packed.headers["Content-Length"]) < int(plain.headers["Content-Length"])
        assert packed.content == plain.content
        assert "Accept-Encoding" in packed.headers["Vary"]


def test_the_frame_loads_only_hashed_files_and_its_modules_import_hashed_names(client):
    frame = client.get("/widget/default/frame")
    assert frame.status_code == 200
    scripts = links(frame.text, "src")
    preloaded = links(frame.text, 'rel="modulepreload" href')
    assert [url.rsplit("/", 1)[1].split(".")[0] for url in scripts] == ["app"]
    for url in [*scripts, *preloaded, *links(frame.text, 'rel="stylesheet" href')]:
        assert_cached_forever(client.get(url, headers=IDENTITY))

    imported = set()
    for module in [*scripts, *preloaded]:
        source = client.get(module, headers=IDENTITY).text
        for specifier in re.findall(r'\bfrom\s*"(\.[^"]+)"', source):
            imported.add(urljoin(module, specifier))

    assert imported, "the frame's modules import nothing"
    for url in sorted(imported):
        assert_cached_forever(client.get(url, headers=IDENTITY))
    assert imported <= set(preloaded), "a module imports a file the frame does not preload"
