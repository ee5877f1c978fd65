"""The admin's login, throttled per client address and per username, telling nothing about
which usernames exist."""

import pytest
from asgiref.sync import sync_to_async

from chatbridge.archive.login import REFUSAL
from tests.chatbridge.archive.factories import viewer

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN = "/admin/login/"
PER_ADDRESS = 3
PER_USERNAME = 2
PASSWORD = "s3cret-pass-word"
REFUSED_TEXT = REFUSAL.split("{")[0]


@pytest.fixture(autouse=True)
def throttle(settings, redis_client):
    """Small limits, and addresses told apart by the one trusted proxy's X-Forwarded-For."""
    settings.CHATBRIDGE_ADMIN_LOGIN_FAILURES_PER_ADDRESS = PER_ADDRESS
    settings.CHATBRIDGE_ADMIN_LOGIN_FAILURES_PER_USERNAME = PER_USERNAME
    settings.CHATBRIDGE_ADMIN_LOGIN_WINDOW = 900
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 1


@pytest.fixture
async def user():
    return await sync_to_async(viewer)(password=PASSWORD)


def refusal_note(response) -> str:
    """The refusal's error note on the login page."""
    page = response.content.decode()
    start = page.index(REFUSED_TEXT)
    return page[start : page.index("<", start)]


async def log_in(async_client, username: str, password: str, address: str = "203.0.113.7"):
    return await async_client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        headers={"X-Forwarded-For": address},
    )


async def test_an_address_that_failed_too_often_is_answered_429_even_with_the_password(
    async_client, user
):
    for n in range(PER_ADDRESS):
        failed = await log_in(async_client, f"guess-{n}", "wrong")
        assert failed.status_code == 200
    refused = await log_in(async_client, user.username, PASSWORD)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert REFUSED_TEXT in refused.content.decode()
    assert (await async_client.get("/admin/")).status_code == 302, "logged in regardless"


async def test_another_address_is_unaffected(async_client, user):
    for n in range(PER_ADDRESS):
        await log_in(async_client, f"guess-{n}", "wrong")
    elsewhere = await log_in(async_client, user.username, PASSWORD, address="198.51.100.1")
    assert elsewhere.status_code == 302


async def test_a_username_that_failed_too_often_is_refused_from_any_address(async_client, user):
    for n in range(PER_USERNAME):
        await log_in(async_client, user.username, "wrong", address=f"192.0.2.{n}")
    refused = await log_in(async_client, user.username, PASSWORD, address="198.51.100.1")
    assert refused.status_code == 429
    other_user = await log_in(async_client, "someone-else", "wrong", address="198.51.100.1")
    assert other_user.status_code == 200


async def test_an_unknown_username_is_throttled_exactly_like_a_real_one(async_client, user):
    answers = {}
    for username in (user.username, "nobody-by-this-name"):
        for n in range(PER_USERNAME):
            await log_in(async_client, username, "wrong", address=f"192.0.2.{n}")
        answers[username] = await log_in(async_client, username, "wrong", address="198.51.100.1")
    real, unknown = answers.values()
    assert real.status_code == unknown.status_code == 429
    assert refusal_note(real) == refusal_note(unknown)


async def test_a_successful_login_does_not_count_as_a_failure(async_client, user):
    for _ in range(PER_USERNAME - 1):
        await log_in(async_client, user.username, "wrong")
    assert (await log_in(async_client, user.username, PASSWORD)).status_code == 302
    await async_client.alogout()
    assert (await log_in(async_client, user.username, "wrong")).status_code == 200


async def test_attempts_the_throttle_refused_count_against_nobody(async_client, user):
    """Someone who keeps trying a locked-out username does not use up their address's
    failures: the attempts were refused, not failed."""
    for n in range(PER_USERNAME):
        await log_in(async_client, user.username, "wrong", address=f"192.0.2.{n}")
    for _ in range(PER_ADDRESS):
        assert (await log_in(async_client, user.username, "wrong")).status_code == 429
    assert (await log_in(async_client, "someone-else", "typo")).status_code == 200
