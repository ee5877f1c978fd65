"""The "Transcript viewer" group as the migrations leave it, and the demo account."""

import pytest
from django.contrib.auth.models import Group

from chatbridge.archive.demo import DEMO_USERNAME, ensure_demo_user

pytestmark = pytest.mark.django_db


def test_the_viewer_group_may_read_and_export_transcripts_but_not_raw_events():
    group = Group.objects.get(name="Transcript viewer")

    codenames = set(group.permissions.values_list("codename", flat=True))

    assert codenames == {
        "view_chat",
        "export_chat",
        "view_auditentry",
        "view_leftmessage",
        "handle_leftmessage",
    }


def test_the_demo_user_is_a_viewer_with_a_new_password_each_time():
    first = ensure_demo_user()
    second = ensure_demo_user()

    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=DEMO_USERNAME)
    assert first != second and second.startswith("demo-")
    assert user.check_password(second) and not user.check_password(first)
    assert user.is_staff and not user.is_superuser
    assert user.has_perm("archive.view_chat") and not user.has_perm("archive.change_chat")
    assert not user.has_perm("archive.view_chatevent")
    assert list(user.groups.values_list("name", flat=True)) == ["Transcript viewer"]
