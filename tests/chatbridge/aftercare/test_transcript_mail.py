"""The transcript by e-mail: asked over REST once the chat ended, sent by the mailer from the
archive (Django's locmem backend collects it), never before the archive holds the chat."""

import pytest
from django.core import mail

from chatbridge.archive.mail import archived_up_to, transcript_message
from chatbridge.archive.models import AuditEntry
from chatbridge.chats.aftercare import MailRequest
from chatbridge.dev.services import free_port
from chatbridge.redis import keys
from tests.chatbridge.archive.factories import make_chat
from tests.support.rest import (
    assert_problem,
    bearer,
    contact_id,
    start_chat,
    wait_for_agent_message,
)
from tests.support.upstreams import until_upstream_stops

pytestmark = pytest.mark.django_db(transaction=True)


async def ended_chat(api, runtime, emulator, *, agent_says: str | None = None) -> dict:
    chat = await start_chat(api)
    sent = await api.post(
        f"/chats/{chat['chat_id']}/messages",
        json={"content": "Where is A-17?"},
        headers=bearer(chat),
    )
    assert sent.status_code == 201
    if agent_says:
        contact = await contact_id(runtime, chat)
        emulator.agent_join(contact, "Sam")
        emulator.agent_message(contact, agent_says)
        await wait_for_agent_message(api, chat, agent_says)
    await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
    await until_upstream_stops(chat["chat_id"])
    return chat


async def ask(api, chat, email: str = "ada@example.com", **body):
    return await api.post(
        f"/chats/{chat['chat_id']}/transcript-email",
        json={"email": email, **body},
        headers=bearer(chat),
    )


async def test_the_mail_waits_for_the_archive_then_holds_the_whole_chat(
    api, widget, runtime, emulator, archiver, mailer, redis_client
):
    mail.outbox.clear()
    chat = await ended_chat(api, runtime, emulator, agent_says="It ships today")
    # The survey answered first has written the chat's row, but none of its events.
    answer = await api.post(
        f"/chats/{chat['chat_id']}/survey", json={"rating": 5}, headers=bearer(chat)
    )
    assert answer.status_code == 201
    response = await ask(api, chat)
    assert response.status_code == 202, response.text
    assert response.json() == {"queued": True}

    # The archiver has not run: the request waits rather than mailing half a chat.
    await mailer.drain_once()
    assert mail.outbox == []
    assert await redis_client.zcard(keys().mail_retries) == 1

    await archiver.drain_once()
    await mailer.retry_due()
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert "Where is A-17?" in message.body and "It ships today" in message.body
    assert "Sam" in message.body
    [(html, mime)] = message.alternatives
    assert mime == "text/html" and "It ships today" in html
    assert await redis_client.zcard(keys().mail_retries) == 0
    entry = await AuditEntry.objects.aget(action="mail")
    assert entry.chat_id == chat["chat_id"] and "ada@" not in entry.detail


async def test_a_repeated_request_entry_sends_once(
    api, widget, runtime, emulator, archiver, mailer
):
    mail.outbox.clear()
    chat = await ended_chat(api, runtime, emulator)
    await archiver.drain_once()
    assert (await ask(api, chat)).status_code == 202
    await mailer.drain_once()
    assert len(mail.outbox) == 1
    # The same entry delivered again (a crash before its acknowledgement) is not mailed again.
    [(entry_id, fields)] = [
        record
        async for record in _mail_records(mailer._redis)  # noqa: SLF001
    ]
    await mailer._handle([(entry_id, fields)])  # noqa: SLF001
    assert len(mail.outbox) == 1


async def _mail_records(redis):
    for entry_id, fields in await redis.xrange(keys().feed):
        if b"mail" in fields:
            yield entry_id, fields


async def test_the_mail_carries_no_link_nor_token(api, widget, runtime, emulator, archiver, mailer):
    mail.outbox.clear()
    chat = await start_chat(api)
    upload = await api.post(
        f"/chats/{chat['chat_id']}/attachments",
        json={"name": "receipt.txt", "content_type": "text/plain", "size": 5},
        headers=bearer(chat),
    )
    assert upload.status_code == 201, upload.text
    attachment = upload.json()
    put = await api.put(
        f"/chats/{chat['chat_id']}/attachments/{attachment['attachment_id']}/content",
        content=b"hello",
        headers={**bearer(chat), "Content-Type": "text/plain"},
    )
    assert put.status_code == 200, put.text
    done = await api.post(
        f"/chats/{chat['chat_id']}/attachments/{attachment['attachment_id']}/complete",
        headers=bearer(chat),
    )
    assert done.status_code == 200, done.text
    await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
    await until_upstream_stops(chat["chat_id"])
    await archiver.drain_once()
    assert (await ask(api, chat)).status_code == 202
    await mailer.drain_once()

    [message] = mail.outbox
    [(html, _)] = message.alternatives
    for text in (message.body, html, message.subject):
        assert "receipt.txt" in text or text is message.subject
        assert "http" not in text.replace("http://www.w3.org", "")
        assert chat["session_token"] not in text and "cbs_" not in text
        assert chat["history_token"] not in text and "cbh_" not in text


async def test_the_html_mail_escapes_what_was_said(
    api, widget, runtime, emulator, archiver, mailer
):
    mail.outbox.clear()
    chat = await ended_chat(api, runtime, emulator, agent_says="<b>bold</b> & <img src=x>")
    await archiver.drain_once()
    assert (await ask(api, chat)).status_code == 202
    await mailer.drain_once()
    [message] = mail.outbox
    [(html, _)] = message.alternatives
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x&gt;" in html and "<b>" not in html
    assert "<b>bold</b> & <img src=x>" in message.body


async def test_a_chat_still_going_refuses_the_request(api, widget, mailer):
    chat = await start_chat(api)
    assert_problem(await ask(api, chat), 409, "chat_not_ended")


async def test_an_address_that_is_none_is_refused(api, widget, runtime, emulator):
    chat = await ended_chat(api, runtime, emulator)
    body = assert_problem(await ask(api, chat, email="ada at example"), 422, "invalid_input")
    assert body["field"] == "email"


async def test_a_chat_asks_a_limited_number_of_times(api, widget, runtime, emulator, settings):
    settings.CHATBRIDGE_TRANSCRIPT_MAILS_PER_CHAT = 2
    chat = await ended_chat(api, runtime, emulator)
    assert (await ask(api, chat, "a@example.com")).status_code == 202
    assert (await ask(api, chat, "b@example.com")).status_code == 202
    response = assert_problem(await ask(api, chat, "c@example.com"), 429, "rate_limited")
    assert response["status"] == 429


async def test_an_address_is_sent_a_limited_number_of_mails(
    api, widget, runtime, emulator, settings
):
    settings.CHATBRIDGE_TRANSCRIPT_MAILS_PER_ADDRESS = 1
    first = await ended_chat(api, runtime, emulator)
    second = await ended_chat(api, runtime, emulator)
    assert (await ask(api, first, "ada@example.com")).status_code == 202
    assert_problem(await ask(api, second, "ADA@example.com"), 429, "rate_limited")


def test_an_archive_without_the_chats_last_events_is_not_ready():
    last = make_chat("c1").events.order_by("-seq").first().seq
    assert archived_up_to("c1", last).ready
    assert not archived_up_to("c1", last + 1).ready
    assert not archived_up_to("c2", 0).ready


def test_an_archived_chat_not_known_to_have_ended_is_not_ready():
    make_chat("c1", ended=False)
    assert not archived_up_to("c1", 0).ready


async def test_a_request_the_archive_never_serves_is_given_up(
    api, widget, runtime, emulator, mailer, redis_client, settings
):
    settings.CHATBRIDGE_TRANSCRIPT_MAIL_ATTEMPTS = 3
    mail.outbox.clear()
    chat = await ended_chat(api, runtime, emulator)
    assert (await ask(api, chat)).status_code == 202
    # Looks one and two: the entry, then its first retry, due at once.
    await mailer.drain_once()
    assert await redis_client.zcard(keys().mail_retries) == 1
    # Look three is the last.
    assert await mailer.retry_due() == 1
    assert await redis_client.zcard(keys().mail_retries) == 0
    assert mail.outbox == []


async def test_a_mail_server_that_refuses_is_tried_again(
    api, widget, runtime, emulator, archiver, mailer, redis_client, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_TIMEOUT = 5
    chat = await ended_chat(api, runtime, emulator)
    await archiver.drain_once()
    assert (await ask(api, chat)).status_code == 202
    await mailer.drain_once()
    assert await redis_client.zcard(keys().mail_retries) == 1

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    await mailer.retry_due()
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


async def test_another_chats_token_cannot_ask_for_the_transcript(api, widget, runtime, emulator):
    chat = await ended_chat(api, runtime, emulator)
    other = await ended_chat(api, runtime, emulator)
    response = await api.post(
        f"/chats/{chat['chat_id']}/transcript-email",
        json={"email": "mallory@example.com"},
        headers=bearer(other),
    )
    assert_problem(response, 404, "unknown_chat")


def mail_in(locale: str):
    """The transcript e-mail of an archived chat of its own, asked for in `locale`."""
    chat = make_chat(f"chat-{locale}", agent="Sam")
    request = MailRequest(request_id="r1", to="ada@example.com", last_seq=0, locale=locale)
    return transcript_message(chat.chat_id, request)


def test_the_mail_is_written_in_the_language_the_widget_speaks():
    message = mail_in("fr")
    [(html, _)] = message.alternatives

    assert message.subject.startswith("Votre chat avec")
    assert "Sam a rejoint le chat" in message.body and "Le chat est terminé" in message.body
    assert "Vous avez demandé cette conversation" in html
    assert '<html lang="fr" dir="ltr">' in html


def test_an_arabic_mail_reads_right_to_left():
    message = mail_in("ar")
    [(html, _)] = message.alternatives

    assert message.subject.startswith("محادثتك مع")
    assert "انضم Sam إلى المحادثة" in message.body
    assert '<html lang="ar" dir="rtl">' in html


def test_a_regional_locale_gets_its_language_and_an_unknown_one_english():
    assert mail_in("fr-CA").subject.startswith("Votre chat avec")
    assert mail_in("de").subject.startswith("Your chat with")
