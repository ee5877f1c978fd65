"""dom.js: uid() makes random UUIDs, version 4, which a chat start's Idempotency-Key must be,
with or without crypto.randomUUID (which pages on plain http lack)."""

import re

import pytest
from playwright.sync_api import Page

from chatbridge.api.idempotency import UUID4_PATTERN

UIDS = """async (withRandomUUID) => {
  if (!withRandomUUID) {
    Object.defineProperty(Crypto.prototype, "randomUUID", { value: undefined, configurable: true });
  }
  const { uid } = await import("/static/webwidget/frame/dom.js");
  return Array.from({ length: 200 }, () => uid());
}"""


@pytest.mark.parametrize("with_random_uuid", [True, False], ids=["randomUUID", "by-hand"])
def test_every_uid_is_a_canonical_version_4_uuid(js: Page, with_random_uuid: bool) -> None:
    uids = js.evaluate(UIDS, with_random_uuid)
    assert all(re.fullmatch(UUID4_PATTERN, uid) and uid == uid.lower() for uid in uids), uids
    assert len(set(uids)) == len(uids)


def test_uids_made_by_hand_vary_in_every_random_digit(js: Page) -> None:
    uids = js.evaluate(UIDS, False)
    fixed = {14, 8, 13, 18, 23}
    for position in set(range(36)) - fixed:
        assert len({uid[position] for uid in uids}) > 1, position
