"""ChatBridge's catalogs (chatbridge/locale): each compiled .mo says what its .po says, so an
edited .po that was not compiled again (`msgfmt -o django.mo django.po`) is caught here."""

import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "chatbridge" / "locale"
ENTRY = re.compile(r'^(msgctxt|msgid|msgstr) "(.*)"$')


def po_entries(path: Path) -> dict[tuple[str | None, str], str]:
    """(context, msgid) → msgstr of a .po file of single-line strings, the header left out."""
    entries: dict[tuple[str | None, str], str] = {}
    context: str | None = None
    msgid = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        found = ENTRY.match(line)
        if not found:
            continue
        keyword, text = found.groups()
        if keyword == "msgctxt":
            context = text
        elif keyword == "msgid":
            msgid = text
        elif msgid:
            entries[(context, msgid)] = text
            context = None
    return entries


@pytest.mark.parametrize("language", sorted(p.name for p in LOCALE.iterdir() if p.is_dir()))
def test_the_compiled_catalog_says_what_its_source_says(language):
    messages = LOCALE / language / "LC_MESSAGES"
    with (messages / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    entries = po_entries(messages / "django.po")

    assert entries
    for (context, msgid), msgstr in entries.items():
        if context is None:
            assert catalog.gettext(msgid) == msgstr, msgid
        else:
            assert catalog.pgettext(context, msgid) == msgstr, msgid
