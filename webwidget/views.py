"""The widget's pages: the chat frame a host page embeds, and the demo host site.

A host page loads `loader.js`, which draws a fixed-position iframe of `frame/`; everything the
customer sees lives in that frame, on ChatBridge's own origin, out of reach of the host's CSS
and JS. The frame is embeddable only by the widget's allowed origins (CSP frame-ancestors).

The loader and the frame's modules and stylesheet are static files (chatbridge/staticfiles.py):
the frame names them by their hashed names, which browsers keep for good, so a returning
visitor's widget costs the frame's revalidation (a 304) and at most one of the loader.
"""

import hashlib
import json
from urllib.parse import urlsplit

from csp.constants import NONE, SELF
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import get_conditional_response
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_safe

from webwidget.models import Widget
from webwidget.origins import configured_origins


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
    # The frame compares its own origin with these to tell its host page, in the console, that
    # /ws/chat/ will refuse it, and which setting to change.
    config["socket_origins"] = configured_origins()
    response = render(
        request,
        "webwidget/frame.html",
        {"widget": widget, "config_json": json.dumps(config, separators=(",", ":"))},
    )
    policy = frame_policy(widget)
    response["Cache-Control"] = "no-cache"
    response["ETag"] = frame_etag(response.content, policy)
    response = get_conditional_response(request, etag=response["ETag"], response=response)
    # A 304 carries them too: browsers replace the stored page's headers with the 304's.
    response._csp_replace = policy
    response["Referrer-Policy"] = "no-referrer"
    return response


def frame_etag(body: bytes, policy: dict[str, list[str]]) -> str:
    """The frame's validator: its page and its policy, which together are all it answers.

    Revalidating by ETag (the frame uses no CSP nonce, so an unchanged frame is byte for byte
    the same) turns a returning visitor's frame into a 304. The policy is in it because a
    changed one (an origin added to the widget) must reach browsers holding the old page.
    """
    digest = hashlib.sha256(body)
    digest.update(json.dumps(policy, sort_keys=True).encode())
    return '"' + digest.hexdigest()[:32] + '"'


@require_safe
def demo(request: HttpRequest) -> HttpResponse:
    """The demo host site: a plain product page carrying the widget's one tag, as host sites
    write it (the loader's stable URL, not its hashed name)."""
    widget_id = request.GET.get("widget", "default")
    return render(request, "demo/index.html", {"widget_id": widget_id})
