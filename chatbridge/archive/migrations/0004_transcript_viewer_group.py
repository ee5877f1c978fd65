"""The "Transcript viewer" group: may read and export transcripts and read the audit log,
never change or delete anything."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Transcript viewer"
PERMISSIONS = [
    ("archive", "view_chat"),
    ("archive", "export_chat"),
    ("archive", "view_chatevent"),
    ("archive", "view_auditentry"),
]


def create_group(apps, schema_editor):
    # Permissions are normally created after migrate; this group needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0003_search_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
