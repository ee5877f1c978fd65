"""Encryption of Connect tokens at rest, and hashing of ChatBridge session tokens.

Connect's participant and connection tokens are stored in Redis encrypted with Fernet; a
MultiFernet lets keys rotate (the first key encrypts, every key decrypts). Session tokens are
stored only as SHA-256 digests: a Redis dump opens no chat.
"""

import base64
import functools
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SESSION_TOKEN_PREFIX = "cbs_"


class TokenBox:
    """Encrypts and decrypts secrets with a rotating set of Fernet keys."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("TokenBox needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise ValueError("a stored token could not be decrypted with any key") from None


def derive_key(secret_key: str) -> bytes:
    """A Fernet key derived from Django's SECRET_KEY, for local use without a configured key."""
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"chatbridge token encryption"
    ).derive(secret_key.encode())
    return base64.urlsafe_b64encode(raw)


@functools.cache
def get_token_box() -> TokenBox:
    keys = [key.encode() for key in settings.CHATBRIDGE_TOKEN_KEYS]
    return TokenBox(keys or [derive_key(settings.SECRET_KEY)])


def new_session_token() -> str:
    """An opaque bearer token with 256 bits of randomness."""
    return SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: object) -> None:
    if setting in {"CHATBRIDGE_TOKEN_KEYS", "SECRET_KEY"}:
        get_token_box.cache_clear()
