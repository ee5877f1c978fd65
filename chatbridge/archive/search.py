"""Searching chats by what was said in them.

On PostgreSQL, message text is matched with full-text search against a GIN index (migration
0003) using ``websearch_to_tsquery``: words must all occur in one message, a "quoted phrase"
must occur as written, ``-word`` excludes and ``or`` offers alternatives. The 'simple' text
search configuration neither stems nor drops stop words, so a phrase matches what was typed.
Elsewhere (SQLite in development) a message matches when it contains the text, ignoring case.
"""

from django.db import connections
from django.db.models import BooleanField, F, Func, Q, QuerySet, Value

from chatbridge.archive.models import Chat, ChatEvent

INDEX_NAME = "archive_event_content_fts"
TEXT_SEARCH_CONFIG = "simple"
# The indexed expression; the query below must compile to exactly this (around a column).
TSVECTOR_SQL = f"to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, COALESCE(%s, ''))"


class TextMatch(Func):
    """`content` matches a web-search style query, through the full-text index."""

    output_field = BooleanField()
    arity = 2

    def as_sql(self, compiler, connection, **extra_context):
        raise NotImplementedError("TextMatch needs PostgreSQL; use contains_text() elsewhere")

    def as_postgresql(self, compiler, connection, **extra_context):
        column, column_params = compiler.compile(self.source_expressions[0])
        query, query_params = compiler.compile(self.source_expressions[1])
        sql = (
            f"{TSVECTOR_SQL % column} @@ "
            f"websearch_to_tsquery('{TEXT_SEARCH_CONFIG}'::regconfig, {query})"
        )
        return sql, [*column_params, *query_params]


def uses_full_text(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"


def matching_events(term: str, *, using: str = "default") -> QuerySet[ChatEvent]:
    """The events whose text matches the search term."""
    events = ChatEvent.objects.using(using)
    if uses_full_text(using):
        return events.filter(TextMatch(F("content"), Value(term)))
    return events.filter(content__icontains=term.replace('"', "").strip())


def search_chats(queryset: QuerySet[Chat], term: str) -> QuerySet[Chat]:
    """The chats of the queryset whose id is the term, whose customer's or agent's name
    contains it, or one of whose messages matches it."""
    term = term.strip()
    if not term:
        return queryset
    using = queryset.db
    # A chat id matches exactly; names by substring; messages through the index. The
    # subquery is uncorrelated, so PostgreSQL runs the index search once and hashes it.
    chats_with_match = matching_events(term, using=using).values("chat_id")
    name = term.replace('"', "").strip()
    return queryset.filter(
        Q(chat_id=term)
        | Q(contact_id=term)
        | Q(display_name__icontains=name)
        | Q(agent_name__icontains=name)
        | Q(pk__in=chats_with_match)
    )
