"""Signed customer identities: who the customer is, vouched for by the site's own backend.

A widget that requires identity (Widget.require_identity) starts chats only with an identity
token: a compact JWT, HS256, signed with the widget's `identity_secret` by the customer's own
backend (never in the browser). Claims:

- ``sub`` (required): the customer's id in the site's own system;
- ``iat`` and ``exp`` (required): issued and expiry times, at most
  settings.CHATBRIDGE_IDENTITY_MAX_LIFETIME seconds apart;
- ``name``, ``email`` (optional);
- ``aud`` (optional): if present, it must be the widget id.

Times are checked with settings.CHATBRIDGE_IDENTITY_LEEWAY seconds of clock skew. The verified
claims reach Amazon Connect as contact attributes (`identity_sub`, `identity_name`,
`identity_email`, `identity_verified`), so contact flows and agents can trust them.
"""

import logging
from dataclasses import dataclass

import jwt
from django.conf import settings

from chatbridge.errors import ChatBridgeError

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 4096
MAX_CLAIM_LENGTH = 256
# Shorter HS256 secrets can be recovered offline from a single token (webwidget.models has the
# same floor for what the admin accepts; this one covers secrets stored before it or around it).
MIN_SECRET_BYTES = 32

logger = logging.getLogger(__name__)


class InvalidIdentity(ChatBridgeError):
    code = "invalid_identity"
    status = 401
    default_message = "The identity token is not valid."


class IdentityRequired(InvalidIdentity):
    code = "identity_required"
    default_message = "This widget starts chats only with a signed identity token."


@dataclass(frozen=True, slots=True)
class Identity:
    sub: str
    name: str = ""
    email: str = ""

    def attributes(self) -> dict[str, str]:
        """The contact attributes Connect receives for a verified identity."""
        attributes = {"identity_verified": "true", "identity_sub": self.sub}
        if self.name:
            attributes["identity_name"] = self.name
        if self.email:
            attributes["identity_email"] = self.email
        return attributes


def verify_identity(token: str, *, secret: str, widget_id: str) -> Identity:
    """The identity a token vouches for; InvalidIdentity (never saying more) if none."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidIdentity()
    if not isinstance(secret, str) or len(secret.encode()) < MIN_SECRET_BYTES:
        # Customers learn only that the token is not valid; the operator must fix the widget.
        logger.warning(
            "widget %s: identity_secret is shorter than %d bytes; refusing identity tokens",
            widget_id,
            MIN_SECRET_BYTES,
        )
        raise InvalidIdentity()
    leeway = settings.CHATBRIDGE_IDENTITY_LEEWAY
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=leeway,
            options={"require": ["sub", "iat", "exp"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidIdentity("The identity token has expired.") from None
    except jwt.InvalidTokenError:
        raise InvalidIdentity() from None
    issued, expires = claims["iat"], claims["exp"]
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise InvalidIdentity()
    if expires - issued > settings.CHATBRIDGE_IDENTITY_MAX_LIFETIME:
        raise InvalidIdentity(
            "The identity token lives too long: exp may be at most "
            f"{settings.CHATBRIDGE_IDENTITY_MAX_LIFETIME} seconds after iat."
        )
    audience = claims.get("aud")
    if audience is not None and audience != widget_id and widget_id not in _listed(audience):
        raise InvalidIdentity("The identity token is for another widget.")
    return Identity(
        sub=_claim(claims, "sub", required=True),
        name=_claim(claims, "name"),
        email=_claim(claims, "email"),
    )


def _listed(value: object) -> list:
    return value if isinstance(value, list) else []


def _claim(claims: dict, name: str, *, required: bool = False) -> str:
    value = claims.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CLAIM_LENGTH:
        raise InvalidIdentity(f"The identity token's {name!r} claim is not valid.")
    return value
