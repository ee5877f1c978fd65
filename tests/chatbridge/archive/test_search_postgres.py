"""Search on PostgreSQL: full-text matching through the GIN index of migration 0003.

Runs against a temporary database of its own on the PostgreSQL server at
CHATBRIDGE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres); skipped
with the reason when none answers, and failed in CI when .ci/run has found one.
"""

import os

import dj_database_url
import pytest
from django.core.management import call_command
from django.db import connections

from bench.search import postgres_answers, temporary_database
from chatbridge.archive.models import Chat, ChatEvent
from chatbridge.archive.search import INDEX_NAME, search_chats
from tests.chatbridge.archive.factories import T0

SERVER = os.environ.get(
    "CHATBRIDGE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
ALIAS = "search_pg"


@pytest.fixture(scope="module")
def pg(django_db_blocker):
    if not postgres_answers(SERVER):
        if os.environ.get("CHATBRIDGE_TEST_POSTGRES_URL"):
            pytest.fail(f"CHATBRIDGE_TEST_POSTGRES_URL is set but {SERVER} does not answer")
        pytest.skip(f"No PostgreSQL answers at {SERVER} (set CHATBRIDGE_TEST_POSTGRES_URL)")
    with temporary_database(SERVER, f"chatbridge_test_search_{os.getpid()}") as url:
        configured = {**connections.settings, ALIAS: dj_database_url.parse(url)}
        connections.settings[ALIAS] = connections.configure_settings(configured)[ALIAS]
        try:
            with django_db_blocker.unblock():
                call_command("migrate", database=ALIAS, verbosity=0)
                _archive()
                yield ALIAS
        finally:
            connections[ALIAS].close()
            del connections[ALIAS]
            del connections.settings[ALIAS]


def _archive() -> None:
    texts = {
        "a": ["My parcel was left with the neighbour", "thanks"],
        "b": ["The neighbour left, with my parcel?", "Refunds take five days"],
        "c": ["I want a refund for the voucher", "Hello"],
    }
    for chat_id, messages in texts.items():
        chat = Chat.objects.using(ALIAS).create(
            chat_id=chat_id, display_name=f"Customer {chat_id}", started_at=T0
        )
        ChatEvent.objects.using(ALIAS).bulk_create(
            [
                ChatEvent(chat=chat, seq=n + 1, item_id=f"{chat_id}{n}", type="message",
                          content=text, absolute_time=T0)
                for n, text in enumerate(messages)
            ]
        )  # fmt: skip


def found(term: str) -> list[str]:
    return sorted(search_chats(Chat.objects.using(ALIAS), term).values_list("chat_id", flat=True))


def test_the_index_exists(pg):
    with connections[pg].cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [INDEX_NAME])
        [(definition,)] = cursor.fetchall()
    assert "gin" in definition and "to_tsvector('simple'::regconfig" in definition


def test_words_phrases_exclusions_and_alternatives(pg):
    assert found("parcel neighbour") == ["a", "b"]
    assert found('"parcel was left with the neighbour"') == ["a"]
    # Each message is matched on its own: all words in one message, none of the excluded.
    assert found("five -parcel") == ["b"]
    assert found("days -refunds") == []
    assert found("voucher or thanks") == ["a", "c"]
    assert found("REFUND") == ["c"]  # 'simple' does not stem: "refunds" is another word
    assert found("Customer b") == ["b"]  # the customer's name
    assert found("-") == []


def test_the_admin_search_uses_the_index(pg):
    # What the changelist's get_search_results returns (it audits, then delegates).
    queryset = search_chats(Chat.objects.using(pg), '"the neighbour"')
    with connections[pg].cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        sql, params = queryset.query.get_compiler(pg).as_sql()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert INDEX_NAME in plan
