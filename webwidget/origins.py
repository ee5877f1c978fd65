"""Which sites a widget runs on: the one answer that every origin check asks for.

A widget lists its sites under *Where it may run* (`Widget.allowed_origins`), or lists none:
then it follows the deployment's settings, CHATBRIDGE_ALLOWED_ORIGINS and
CHATBRIDGE_PUBLIC_ORIGIN, read when asked, so that one set of settings moves the `default`
widget with the host and port ChatBridge runs on. The frame's CSP frame-ancestors, the frame's
handshake with its host page, the REST API's CORS and chat starts (through
`Widget.origins()`) and the `/ws/chat/` handshake (`configured_origins()`) all resolve their
lists here.

The warnings tell an operator, in the admin and in `manage.py check`, why a widget would not
show: a browser refusing a frame says only "frame-ancestors" in the host page's console.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

SETTING = "CHATBRIDGE_ALLOWED_ORIGINS"
PUBLIC_SETTING = "CHATBRIDGE_PUBLIC_ORIGIN"
FIELD = "Where it may run (allowed origins)"


def normalize_origin(value: str) -> str:
    """scheme://host[:port], lowercased, as browsers send it in the Origin header."""
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
        raise ValidationError(f"{value!r} is not an origin like https://www.example.com")
    return f"{parts.scheme}://{parts.netloc}".lower()


def _normalized(values: Iterable[str]) -> list[str]:
    origins: list[str] = []
    for value in values:
        if not value or not value.strip():
            continue
        try:
            origin = normalize_origin(value)
        except ValidationError:
            continue  # reported by the system check (origins.W003), never allowed
        if origin not in origins:
            origins.append(origin)
    return origins


def public_origin() -> str | None:
    """ChatBridge's own public origin (where the frame is served), if configured."""
    found = _normalized([getattr(settings, PUBLIC_SETTING, "")])
    return found[0] if found else None


def configured_origins() -> list[str]:
    """CHATBRIDGE_ALLOWED_ORIGINS and CHATBRIDGE_PUBLIC_ORIGIN, as settings hold them now."""
    return _normalized(
        [*getattr(settings, SETTING, []), getattr(settings, PUBLIC_SETTING, "") or ""]
    )


def listed_origins(text: str) -> list[str]:
    """The origins a widget's own field lists, one per line (invalid lines raise)."""
    return [normalize_origin(line) for line in text.splitlines() if line.strip()]


def resolve(text: str) -> list[str]:
    """A widget's origins: its own list, or the configured origins when its list is empty."""
    return listed_origins(text) or configured_origins()


@dataclass(frozen=True)
class Finding:
    """One thing an operator should know about where a widget runs. An "info" finding is
    expected in production (a widget for other sites than ChatBridge's own)."""

    level: Literal["warning", "info"]
    text: str


def findings(text: str) -> list[Finding]:
    """Why a widget with this origins field would be refused somewhere, in words for its
    operator; empty when nothing looks wrong."""
    try:
        origins = resolve(text)
    except ValidationError as error:
        return [Finding("warning", f"{FIELD}: {message}") for message in error.messages]
    follows = not listed_origins(text)
    found: list[Finding] = []
    if not origins:
        found.append(
            Finding(
                "warning",
                f"No site may embed this widget: {FIELD} is empty and so is {SETTING}. "
                f"List its sites there, or set {SETTING}.",
            )
        )
    public = public_origin()
    if origins and public and public not in origins:
        found.append(
            Finding(
                "info",
                f"{FIELD} does not include ChatBridge's own origin {public} "
                f"({PUBLIC_SETTING}): pages served from it, such as the demo site, cannot "
                "show this widget.",
            )
        )
    if not settings.DEBUG:
        insecure = [origin for origin in origins if origin.startswith("http://")]
        if insecure:
            where = SETTING if follows else FIELD
            found.append(
                Finding(
                    "warning",
                    f"{', '.join(insecure)} in {where}: http while DEBUG is off; production "
                    "sites should embed the widget over https.",
                )
            )
    return found
