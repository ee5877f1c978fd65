"""Who a customer is, for continuity and their previous conversations.

A chat belongs to a customer of its widget, named by a customer key:

- ``sub:<sub>`` when the site vouched for the customer with a signed identity token
  (chatbridge.api.identity): the same customer on any device;
- ``browser:<random>`` otherwise: a key ChatBridge makes up on the customer's first chat and
  hands back inside a customer token (``cbc_…``), signed, scoped to the widget and honoured
  for settings.CHATBRIDGE_CUSTOMER_TOKEN_TTL seconds. The widget keeps it in its storage, so
  the same browser is the same customer; every start hands back a fresh one.

Clients never name a chat to continue or a customer to read: both follow from what they prove
(a valid identity token, or a customer token that ChatBridge signed).
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from ninja.security import HttpBearer

from chatbridge.api.identity import verify_identity
from chatbridge.api.problems import NotACustomer

CUSTOMER_TOKEN_PREFIX = "cbc_"
IDENTITY_KEY_PREFIX = "sub:"
BROWSER_KEY_PREFIX = "browser:"
MAX_TOKEN_LENGTH = 4096
_SALT = "chatbridge.api.customer-token"


def identity_key(sub: str) -> str:
    return IDENTITY_KEY_PREFIX + sub


def new_browser_key() -> str:
    return BROWSER_KEY_PREFIX + secrets.token_urlsafe(18)


def issue_customer_token(widget_id: str, key: str) -> str | None:
    """The token that proves a browser's customer key; None for an identified customer, who
    proves who they are with the site's identity token instead."""
    if not key.startswith(BROWSER_KEY_PREFIX):
        return None
    return CUSTOMER_TOKEN_PREFIX + signing.dumps(
        {"w": widget_id, "k": key}, salt=_SALT, compress=False
    )


def read_customer_token(token: str, widget_id: str) -> str | None:
    """The browser customer key a token proves for this widget; None if it proves none
    (made up, altered, of another widget, or older than CHATBRIDGE_CUSTOMER_TOKEN_TTL)."""
    if not isinstance(token, str) or not token.startswith(CUSTOMER_TOKEN_PREFIX):
        return None
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        data = signing.loads(
            token[len(CUSTOMER_TOKEN_PREFIX) :],
            salt=_SALT,
            max_age=settings.CHATBRIDGE_CUSTOMER_TOKEN_TTL,
        )
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("w") != widget_id:
        return None
    key = data.get("k")
    if not isinstance(key, str) or not key.startswith(BROWSER_KEY_PREFIX):
        return None
    return key


@dataclass(frozen=True, slots=True)
class CustomerCredential:
    """A bearer token that may prove a customer of a widget; which widget, the request's
    path says, so it is checked against that widget by `customer_key`."""

    token: str


class CustomerBearer(HttpBearer):
    """Authorization: Bearer <customer token or identity token>."""

    async def authenticate(self, request: HttpRequest, token: str) -> CustomerCredential | None:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        return CustomerCredential(token)


customer_auth = CustomerBearer()


def customer_key(credential: CustomerCredential, *, widget_id: str, identity_secret: str) -> str:
    """The customer a credential proves for the widget; NotACustomer or InvalidIdentity if
    none."""
    if credential.token.startswith(CUSTOMER_TOKEN_PREFIX):
        key = read_customer_token(credential.token, widget_id)
        if key is None:
            raise NotACustomer()
        return key
    identity = verify_identity(credential.token, secret=identity_secret, widget_id=widget_id)
    return identity_key(identity.sub)
