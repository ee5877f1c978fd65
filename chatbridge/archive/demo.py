"""A demo staff account for `make run`, so that a newcomer can open the viewer at once."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

DEMO_USERNAME = "demo"
VIEWER_GROUP = "Transcript viewer"


def ensure_demo_user() -> str:
    """Creates or updates the "demo" viewer with a fresh password, and returns it.

    Only for development (runstack calls it when DEBUG is on): the password changes on every
    start, so a forgotten demo account does not stay open with a known password.
    """
    password = f"demo-{secrets.token_urlsafe(9)}"
    user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
    user.is_staff = True
    user.is_active = True
    user.is_superuser = False
    user.set_password(password)
    user.save()
    group, _ = Group.objects.get_or_create(name=VIEWER_GROUP)
    user.groups.add(group)
    return password
