"""`python -m bench.search`: the admin's transcript search on a million-message archive.

Creates a temporary PostgreSQL database on the local server (postgres@127.0.0.1:5432 by
default, trust auth), migrates it, loads --messages messages with COPY (showing progress),
builds the full-text index exactly as migration 0003 does, then times the admin changelist's
search, the query alone and the whole admin page, for a rare phrase and for common words.
The database is dropped at the end, whatever happens.

    python -m bench.search [--messages 1000000] [--per-chat 20] [--server postgres://...]
"""

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
PHRASE = "parcel was left with the neighbour"
PLANTED_EVERY = 20_000  # one message in this many says the phrase
T0 = datetime(2025, 1, 1, tzinfo=UTC)
VOCABULARY = (
    "order delivery parcel refund account password payment card invoice address tracking "
    "number help please thanks hello sorry late broken missing item box size colour return "
    "exchange store online app login email phone week today tomorrow yesterday still waiting "
    "agent customer service manager update status shipped arrived damaged wrong price discount "
    "code voucher subscription cancel renew plan upgrade the a to and of is was it my your we "
    "you can could would will not have has had be been with for on in at this that there"
)
WORDS = VOCABULARY.split()


@contextlib.contextmanager
def temporary_database(server_url: str, name: str) -> Iterator[str]:
    """A new, empty database on the server; its URL. Dropped on the way out."""
    with psycopg.connect(server_url, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_answers(server_url: str) -> bool:
    try:
        with psycopg.connect(server_url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(4, 22)))


def load(cursor, messages: int, per_chat: int, seed: int) -> tuple[int, int]:
    """COPYs the chats and their messages; returns (chats, planted phrase count)."""
    rng = random.Random(seed)
    chats = max(messages // per_chat, 1)
    with cursor.copy(
        "COPY archive_chat (id, chat_id, contact_id, participant_id, display_name, widget_id, "
        "status, started_at, ended_at, ended_reason, agent_name, message_count, last_event_at, "
        "created, updated) FROM STDIN"
    ) as copy:
        for c in range(1, chats + 1):
            started = T0 + timedelta(minutes=c)
            copy.write_row(
                (c, f"bench-{c}", f"contact-{c}", f"p-{c}", f"Customer {c}",
                 ("support", "sales", "billing")[c % 3], "ended", started,
                 started + timedelta(minutes=9), "customer_left", f"Agent {c % 40}", per_chat,
                 started + timedelta(minutes=9), started, started)
            )  # fmt: skip
    cursor.execute("SELECT setval('archive_chat_id_seq', %s)", [chats])
    planted = 0
    started_at = time.perf_counter()
    with cursor.copy(
        "COPY archive_chatevent (chat_id, seq, item_id, type, content_type, content, "
        "participant_role, participant_id, display_name, absolute_time, attachments, receipts, "
        "message_id) FROM STDIN"
    ) as copy:
        for n in range(messages):
            chat, seq = n // per_chat + 1, n % per_chat + 1
            text = _sentence(rng)
            if n % PLANTED_EVERY == PLANTED_EVERY // 2:
                text = f"{text} my {PHRASE} {_sentence(rng)}"
                planted += 1
            role = "CUSTOMER" if seq % 2 else "AGENT"
            copy.write_row(
                (min(chat, chats), seq, f"item-{n}", "message", "text/plain", text, role,
                 role.lower(), role.title(), T0 + timedelta(minutes=chat, seconds=seq * 20),
                 "[]", "[]", "")
            )  # fmt: skip
            if (n + 1) % 100_000 == 0 or n + 1 == messages:
                rate = (n + 1) / (time.perf_counter() - started_at)
                print(f"  loaded {n + 1:>9,} / {messages:,} messages ({rate:,.0f}/s)", flush=True)
    return chats, planted


def timed(fn, runs: int) -> tuple[float, object]:
    result = fn()  # warm the cache, as a server that has been running would be
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--per-chat", type=int, default=20)
    parser.add_argument("--server", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not postgres_answers(args.server):
        print(f"No PostgreSQL answers at {args.server}; set --server.", file=sys.stderr)
        return 2
    name = f"chatbridge_bench_search_{os.getpid()}"
    with temporary_database(args.server, name) as url:
        return _run(url, args)


def _run(url: str, args: argparse.Namespace) -> int:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbridge.settings")
    import django

    django.setup()
    from django.contrib.admin.sites import site
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import RequestFactory

    from chatbridge.archive.models import Chat
    from chatbridge.archive.search import INDEX_NAME, TSVECTOR_SQL, search_chats

    print(f"Temporary database {connection.settings_dict['NAME']}: migrating…", flush=True)
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        # Bulk loads go faster without the index; it is rebuilt below as the migration does.
        cursor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")
        raw = cursor.cursor
        began = time.perf_counter()
        chats, planted = load(raw, args.messages, args.per_chat, args.seed)
        print(f"Loaded in {time.perf_counter() - began:.1f} s; building the index…", flush=True)
        began = time.perf_counter()
        cursor.execute(
            f"CREATE INDEX {INDEX_NAME} ON archive_chatevent USING gin ({TSVECTOR_SQL % 'content'})"
        )
        cursor.execute("ANALYZE")
        print(f"Index built in {time.perf_counter() - began:.1f} s.", flush=True)

    admin = site._registry[Chat]
    user = get_user_model().objects.create_superuser("bench", password="bench-password")
    factory = RequestFactory()

    def query(term: str):
        found = search_chats(admin.get_queryset(None).order_by(*admin.ordering), term)
        return found.count(), list(found[: admin.list_per_page].values_list("pk", flat=True))

    def page(term: str):
        request = factory.get("/admin/archive/chat/", {"q": term})
        request.user = user
        response = admin.changelist_view(request)
        response.render()
        assert response.status_code == 200
        return response

    print(f"\nAdmin search over {args.messages:,} messages in {chats:,} chats "
          f"(median of {args.runs} runs, warm cache):")  # fmt: skip
    results = {}
    for label, term in (
        ("rare phrase", f'"{PHRASE}"'),
        ("two words", "refund voucher"),
        ("common word", "parcel"),
    ):
        query_ms, (count, _) = timed(lambda term=term: query(term), args.runs)
        page_ms, _ = timed(lambda term=term: page(term), args.runs)
        results[label] = (query_ms, page_ms)
        print(f"  {label:<12} {term!r:<40} {count:>7,} chats  query {query_ms:7.1f} ms  "
              f"admin page {page_ms:7.1f} ms")  # fmt: skip
    with connection.cursor() as cursor:
        sql, params = search_chats(Chat.objects.all(), f'"{PHRASE}"').query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    uses_index = INDEX_NAME in plan
    print(f"\n  The phrase search {'uses' if uses_index else 'does NOT use'} {INDEX_NAME}.")
    print(f"  Planted phrase: {planted} messages.")
    connection.close()
    return 0 if uses_index and results["rare phrase"][1] < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
