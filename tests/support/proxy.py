"""nginx for the tests behind a proxy (chatbridge.dev.proxy runs it): where nginx is missing,
a developer's run skips the tests that need it, but a CI run fails, as for chromium
(tests/support/browser.py)."""

import os
from collections.abc import Mapping

from chatbridge.dev.proxy import NGINX, missing_nginx
from tests.support.browser import require_program


def require_nginx(path: str = NGINX, env: Mapping[str, str] = os.environ) -> str:
    """nginx's path, or the current test fails (CI) or skips (a developer's machine)."""
    return require_program(path, missing_nginx(path, env))
