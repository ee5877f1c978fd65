"""Previous conversations: a customer's ended chats and their transcripts, from the archive,
for whoever proves to be that customer."""

import pytest

from tests.support.continuity import ended_chat, identity_token
from tests.support.rest import ORIGIN, assert_problem, start_chat, transcript_page

pytestmark = pytest.mark.django_db(transaction=True)


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _listing(api, token: str, **params) -> dict:
    response = await api.get("/widgets/shop/conversations", params=params, headers=_as(token))
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_customer_token_lists_the_customers_ended_chats_newest_first(
    api, widget, runtime, emulator
):
    first = await ended_chat(api, runtime, "one")
    second = await ended_chat(api, runtime, "two", customer_token=first["customer_token"])
    await ended_chat(api, runtime, "someone else's")
    going = await start_chat(api, customer_token=second["customer_token"])
    await runtime.archiver.drain_once()

    listing = await _listing(api, going["customer_token"])

    assert [c["chat_id"] for c in listing["conversations"]] == [
        second["chat_id"],
        first["chat_id"],
    ]
    assert listing["conversations"][0]["continued_from"] == first["chat_id"]
    assert listing["conversations"][0]["message_count"] == 1
    assert listing["next_cursor"] is None


async def test_the_listing_pages(api, widget, runtime, emulator):
    first = await ended_chat(api, runtime, "one", continue_previous=False)
    token = first["customer_token"]
    second = await ended_chat(api, runtime, "two", customer_token=token, continue_previous=False)

    page = await _listing(api, token, limit=1)
    rest = await _listing(api, token, limit=1, cursor=page["next_cursor"])

    assert [c["chat_id"] for c in page["conversations"]] == [second["chat_id"]]
    assert [c["chat_id"] for c in rest["conversations"]] == [first["chat_id"]]
    assert rest["next_cursor"] is None


async def test_an_identity_token_lists_that_customers_chats(api, widget, runtime, emulator):
    secret = widget.identity_secret
    mine = await ended_chat(api, runtime, "mine", identity=identity_token(secret))
    await ended_chat(api, runtime, "theirs", identity=identity_token(secret, sub="user-43"))

    listing = await _listing(api, identity_token(secret))

    assert [c["chat_id"] for c in listing["conversations"]] == [mine["chat_id"]]


async def test_a_conversation_reads_back_its_transcript(api, widget, runtime, emulator):
    chat = await ended_chat(api, runtime, "my order is late")

    response = await api.get(
        f"/widgets/shop/conversations/{chat['chat_id']}/transcript",
        headers=_as(chat["customer_token"]),
    )

    page = transcript_page(response)
    messages = [e["event"]["content"] for e in page["events"] if e["event"]["type"] == "message"]
    assert messages == ["my order is late"] and page["status"] == "ended"


async def test_another_customers_conversation_is_an_unknown_chat(api, widget, runtime, emulator):
    theirs = await ended_chat(api, runtime, "theirs")
    mine = await ended_chat(api, runtime, "mine")

    response = await api.get(
        f"/widgets/shop/conversations/{theirs['chat_id']}/transcript",
        headers=_as(mine["customer_token"]),
    )

    assert_problem(response, 404, "unknown_chat")


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "not_authenticated"),
        ("cbc_made-up", "not_authenticated"),
        ("x.y.z", "invalid_identity"),
    ],
)
async def test_without_proof_of_the_customer_nothing_is_listed(api, widget, token, code):
    headers = _as(token) if token else {}
    response = await api.get("/widgets/shop/conversations", headers=headers)
    assert_problem(response, 401, code)


async def test_the_widgets_own_sites_may_read_them_across_origins(api, widget):
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    path = "/widgets/shop/conversations"

    allowed = await api.options(path, headers={**preflight, "Origin": ORIGIN})
    foreign = await api.options(path, headers={**preflight, "Origin": "https://evil.example"})

    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in foreign.headers
