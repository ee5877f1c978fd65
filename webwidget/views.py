"""The widget's pages: its assets, the chat frame a host page embeds, and the demo host site.

A host page loads `loader.js`, which draws a fixed-position iframe of `frame/`; everything the
customer sees lives in that frame, on ChatBridge's own origin, out of reach of the host's CSS
and JS. The frame is embeddable only by the widget's allowed origins (CSP frame-ancestors).
"""

import gzip
import hashlib
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from csp.constants import NONE, SELF
from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_safe

from webwidget.models import Widget

ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
COMPRESSIBLE = {".js", ".css", ".svg", ".json", ".html"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    etag: str
    content_type: str
    mtime: float


_assets: dict[str, Asset] = {}


def _load_asset(name: str) -> Asset:
    found = finders.find(f"webwidget/{name}")
    if not found or ".." in Path(name).parts:
        raise Http404("No such widget asset.")
    path = Path(found)
    mtime = path.stat().st_mtime
    cached = _assets.get(name)
    if cached is not None and cached.mtime == mtime:
        return cached
    body = path.read_bytes()
    suffix = path.suffix.lower()
    content_type = ASSET_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
    asset = Asset(
        body=body,
        gzipped=gzip.compress(body, 9, mtime=0) if suffix in COMPRESSIBLE else None,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        content_type=content_type or "application/octet-stream",
        mtime=mtime,
    )
    _assets[name] = asset
    return asset


@require_safe
def asset(request: HttpRequest, name: str) -> HttpResponse:
    """Serves static/webwidget/ under any ASGI server, gzipped, revalidated by ETag.

    Host pages on other sites load the loader as a classic script, so it is marked
    cross-origin for pages that use Cross-Origin-Embedder-Policy.
    """
    item = _load_asset(name)
    if request.headers.get("If-None-Match") == item.etag:
        response = HttpResponse(status=304)
    else:
        accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
        body = item.gzipped if item.gzipped is not None and accepts_gzip else item.body
        response = HttpResponse(body, content_type=item.content_type)
        if body is item.gzipped:
            response["Content-Encoding"] = "gzip"
        response["Content-Length"] = str(len(body))
    response["ETag"] = item.etag
    response["Cache-Control"] = "public, max-age=0, must-revalidate"
    response["Last-Modified"] = http_date(item.mtime)
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def frame_policy(widget: Widget) -> dict[str, list[str]]:
    """The frame's CSP: only the widget's sites may embed it; images may come from Connect's
    attachment storage and the configured logo."""
    images = [SELF, "data:", "blob:", "https:"]
    for url in (settings.CONNECT_PARTICIPANT_ENDPOINT_URL, widget.logo_url):
        origin = _origin_of(url)
        if origin and origin not in images:
            images.append(origin)
    return {
        "frame-ancestors": widget.origins() or [NONE],
        "img-src": images,
        "media-src": [SELF, "blob:"],
    }


@require_safe
@xframe_options_exempt
def frame(request: HttpRequest, widget_id: str) -> HttpResponse:
    widget = get_object_or_404(Widget, widget_id=widget_id, enabled=True)
    config = widget.public_config()
    config["allowed_origins"] = widget.origins()
    response = render(
        request,
        "webwidget/frame.html",
        {"widget": widget, "config_json": json.dumps(config, separators=(",", ":"))},
    )
    response._csp_replace = frame_policy(widget)
    response["Cache-Control"] = "no-cache"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_safe
def demo(request: HttpRequest) -> HttpResponse:
    """The demo host site: a plain product page carrying the widget's one tag."""
    widget_id = request.GET.get("widget", "default")
    return render(request, "demo/index.html", {"widget_id": widget_id})
