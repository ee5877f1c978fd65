"""Django's deploy checks, read through ChatBridge's middleware.

ChatBridge lists subclasses of Django's security, session, CSRF and clickjacking middleware
(chatbridge.api.inline_middleware), and Django's checks look for those classes by their dotted
path: as written, `check --deploy` would find no SecurityMiddleware, and every check behind it
(HSTS, the SSL redirect, secure cookies...) would pass without looking. These run the same
checks on the middleware list with each subclass named by the Django class it extends, so they
judge the settings as they are, and report under Django's ids prefixed with `chatbridge.`
(`chatbridge.security.W004`). Django's own three "middleware missing" warnings
(security.W001–W003) are silenced in settings: these report a middleware truly missing.
"""

from django.conf import settings
from django.core import checks
from django.core.checks.security import base, csrf, sessions
from django.test.utils import override_settings
from django.utils.module_loading import import_string

# Django's checks that first ask whether a middleware is installed.
MIDDLEWARE_CHECKS = (
    base.check_security_middleware,
    base.check_xframe_options_middleware,
    base.check_sts,
    base.check_sts_include_subdomains,
    base.check_sts_preload,
    base.check_content_type_nosniff,
    base.check_ssl_redirect,
    base.check_xframe_deny,
    base.check_referrer_policy,
    base.check_cross_origin_opener_policy,
    csrf.check_csrf_middleware,
    csrf.check_csrf_cookie_secure,
    sessions.check_session_cookie_secure,
    sessions.check_session_cookie_httponly,
)


def as_django_reads_it(path: str) -> str:
    """The dotted path of the Django middleware `path` extends (itself if none)."""
    cls = import_string(path)
    for parent in getattr(cls, "__mro__", ())[1:]:
        if parent.__module__.startswith("django."):
            return f"{parent.__module__}.{parent.__qualname__}"
    return path


@checks.register(checks.Tags.security, deploy=True)
def middleware_checks(app_configs, **kwargs) -> list[checks.CheckMessage]:
    middleware = [as_django_reads_it(path) for path in settings.MIDDLEWARE]
    found: list[checks.CheckMessage] = []
    with override_settings(MIDDLEWARE=middleware, SILENCED_SYSTEM_CHECKS=[]):
        for check in MIDDLEWARE_CHECKS:
            found.extend(check(app_configs))
    return [
        checks.CheckMessage(m.level, m.msg, hint=m.hint, obj=m.obj, id=f"chatbridge.{m.id}")
        for m in found
    ]
