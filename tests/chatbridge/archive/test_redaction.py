"""Redaction of e-mail addresses, phone numbers and Luhn-valid card numbers."""

import pytest

from chatbridge.archive.redaction import luhn_valid, redact


@pytest.mark.parametrize(
    "digits, valid",
    [
        ("4111111111111111", True),  # Visa test number
        ("5500000000000004", True),  # Mastercard
        ("378282246310005", True),  # Amex, 15 digits
        ("6011111111111117", True),  # Discover
        ("4111111111111112", False),
        ("1234567812345678", False),
        ("0", True),
        ("", False),
        ("4111 1111", False),
    ],
)
def test_luhn(digits, valid):
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    "text, expected",
    [
        ("write to ada.l+chat@example.co.uk please", "write to [email] please"),
        ("a@b.com, c.d@e-f.org", "[email], [email]"),
        ("card 4111 1111 1111 1111 thanks", "card [card] thanks"),
        ("card 4111-1111-1111-1111.", "card [card]."),
        ("4111111111111111", "[card]"),
        ("amex 3782 822463 10005", "amex [card]"),
        # Not Luhn-valid and too long for a phone number: an order number, left alone.
        ("order 4111 1111 1111 1112", "order 4111 1111 1111 1112"),
        ("ref 12345678901234567", "ref 12345678901234567"),
        ("call +44 20 7946 0958 now", "call [phone] now"),
        ("call (555) 123-4567.", "call [phone]."),
        ("+1 (555) 123-4567", "[phone]"),
        ("my number is 555-1234", "my number is [phone]"),
        ("tel:+4915112345678", "tel:[phone]"),
        # Short numbers, dates and times stay.
        ("ref 12345, 3 items", "ref 12345, 3 items"),
        ("on 2026-01-02 at 10:30", "on 2026-01-02 at 10:30"),
        ("on 02.01.2026", "on 02.01.2026"),
        ("nothing personal here", "nothing personal here"),
        ("", ""),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_none_stays_none():
    assert redact(None) is None


def test_everything_in_one_message():
    text = "I'm ada@example.com, +1 555 123 4567, card 5500 0000 0000 0004, order 778899"
    assert redact(text) == "I'm [email], [phone], card [card], order 778899"
