"""Full-text search over message text, on PostgreSQL only.

A GIN index of the tsvector that `chatbridge.archive.search` matches against: the expression
here and the one the search compiles must stay identical, or PostgreSQL will not use the
index. Built CONCURRENTLY so that adding it to a large live archive does not block writes.
Other databases (SQLite in development) search with a plain substring match and get nothing.
"""

from django.db import migrations

from chatbridge.archive.search import INDEX_NAME, TSVECTOR_SQL


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX_NAME} "
        f"ON archive_chatevent USING gin ({TSVECTOR_SQL % 'content'})"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX_NAME}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("archive", "0002_viewer")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
