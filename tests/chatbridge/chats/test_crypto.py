"""Connect tokens are encrypted at rest, session tokens only ever stored as digests."""

import pytest
from cryptography.fernet import Fernet

from chatbridge.chats.crypto import (
    SESSION_TOKEN_PREFIX,
    TokenBox,
    derive_key,
    hash_session_token,
    new_session_token,
)


def test_sealed_token_opens_to_the_original():
    box = TokenBox([Fernet.generate_key()])
    assert box.open(box.seal("participant-token")) == "participant-token"


def test_sealed_token_does_not_contain_the_plain_text():
    box = TokenBox([Fernet.generate_key()])
    assert b"participant-token" not in box.seal("participant-token")


def test_rotated_keys_still_open_tokens_sealed_with_the_old_key():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed = TokenBox([old]).seal("token")
    assert TokenBox([new, old]).open(sealed) == "token"


def test_a_token_sealed_with_an_unknown_key_is_refused():
    sealed = TokenBox([Fernet.generate_key()]).seal("token")
    with pytest.raises(ValueError):
        TokenBox([Fernet.generate_key()]).open(sealed)


def test_derived_key_is_a_valid_fernet_key_and_stable():
    assert derive_key("secret") == derive_key("secret")
    Fernet(derive_key("secret"))


def test_session_tokens_are_long_random_and_recognisable():
    first, second = new_session_token(), new_session_token()
    assert first != second
    assert first.startswith(SESSION_TOKEN_PREFIX)
    assert len(first) - len(SESSION_TOKEN_PREFIX) >= 43  # 32 bytes in urlsafe base64


def test_session_token_digest_is_stable_and_hides_the_token():
    token = new_session_token()
    assert hash_session_token(token) == hash_session_token(token)
    assert token not in hash_session_token(token)
