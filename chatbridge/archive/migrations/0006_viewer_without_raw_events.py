"""The "Transcript viewer" group no longer opens the raw event rows.

A raw row shows its message unredacted, outside the transcript page; the group reads chats
through the transcript pages, where every read is audited. Staff who need the raw rows are
given the permission on their own, explicitly. Other groups keep what they were given.
"""

from django.db import migrations

GROUP = "Transcript viewer"
REVOKED = [("archive", "view_chatevent")]


def _group_and_permissions(apps, schema_editor):
    using = schema_editor.connection.alias
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.using(using).filter(name=GROUP).first()
    permissions = [
        permission
        for app_label, codename in REVOKED
        for permission in Permission.objects.using(using).filter(
            content_type__app_label=app_label, codename=codename
        )
    ]
    return group, permissions


def revoke(apps, schema_editor):
    group, permissions = _group_and_permissions(apps, schema_editor)
    if group is not None:
        group.permissions.remove(*permissions)


def restore(apps, schema_editor):
    group, permissions = _group_and_permissions(apps, schema_editor)
    if group is not None:
        group.permissions.add(*permissions)


class Migration(migrations.Migration):
    dependencies = [("archive", "0005_search_audit")]

    operations = [migrations.RunPython(revoke, restore)]
