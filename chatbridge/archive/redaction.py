"""Redaction of personal data in transcript text: e-mail addresses, phone numbers and payment
card numbers.

Pure functions with no Django dependency. The viewer and the exports pass message text through
`redact` when CHATBRIDGE_REDACT_PII is on; the archive itself keeps what was said.

- A card number is 13 to 19 digits, optionally grouped by single spaces or hyphens, that
  passes the Luhn check: order numbers and other long digit runs are left alone.
- A phone number is 7 to 15 digits (E.164's maximum), optionally with a leading +, grouped by
  spaces, dots, hyphens or parentheses. Dates (2026-01-02, 02.01.2026) are not. Other runs
  of 7 to 15 digits (a long order number) are redacted too: redaction errs towards privacy.
- An e-mail address is local@domain.tld.
"""

import re

EMAIL_MARK = "[email]"
PHONE_MARK = "[phone]"
CARD_MARK = "[card]"

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}", re.UNICODE)
# Digit groups joined by one separator; the lookarounds keep it off longer words and numbers.
_CARD = re.compile(r"(?<![\w+])\d(?:[ -]?\d){12,18}(?![\w])")
_PHONE = re.compile(r"(?<![\w+(])(?:\+|\(|\b)\d[\d().\s-]{5,22}\d(?![\w])")
_DATE = re.compile(r"\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (card numbers do)."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def _card(match: re.Match[str]) -> str:
    digits = _digits(match.group())
    return CARD_MARK if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = _digits(text)
    if not 7 <= len(digits) <= 15:
        return text
    if "\n" in text or "  " in text or _DATE.fullmatch(text):
        return text
    # Parentheses must balance: "(555) 123-4567" yes, "12) 34" no.
    if text.count("(") != text.count(")"):
        return text
    return PHONE_MARK


def redact(text: str | None) -> str | None:
    """The text with e-mail addresses, card numbers and phone numbers replaced by marks."""
    if not text:
        return text
    text = _EMAIL.sub(EMAIL_MARK, text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)
