"""The admin's login page, throttled against password guessing.

Failed logins are counted per client address (chatbridge.addresses, the REST API's rule) and
per username, in Redis windows shared by every process. Each POST counts as an attempt before
the password is checked, so that guesses sent all at once cannot slip past the count; a login
that succeeds, or one refused by the throttle, is taken back. Once either count is over its
limit the page answers 429 with Retry-After and does not check the password at all.

The username counts whether or not such a user exists, and the refusal is the same for both:
the throttle tells nothing about which usernames are real. Its price is that someone who
guesses at a username can keep its owner out for a window; the address limit is the one that
stops a single guesser trying many usernames.
"""

import hashlib
import math
from dataclasses import dataclass

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext

from chatbridge.addresses import address_digest, request_address
from chatbridge.errors import RateLimited
from chatbridge.ratelimit import RedisWindow
from chatbridge.redis import RedisKeys, get_redis, keys

REFUSAL = "Too many failed login attempts. Please wait {minutes} before trying again."


@dataclass(frozen=True, slots=True)
class Attempt:
    """The window keys one login attempt was counted under."""

    keys: tuple[str, ...]


class LoginThrottle:
    """Failed logins per address and per username, each at most a limit per window."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        keys: RedisKeys,
        per_address: int,
        per_username: int,
        window: float,
    ) -> None:
        self._keys = keys
        self._limits = (
            ("address", RedisWindow(redis, limit=per_address, window=window)),
            ("username", RedisWindow(redis, limit=per_username, window=window)),
        )

    async def attempt(self, *, address: str, username: str) -> Attempt:
        """Counts an attempt, or raises RateLimited (and counts nothing) when the address or
        the username has failed too often."""
        digests = (address_digest(address), _username_digest(username))
        counted: list[tuple[RedisWindow, str]] = []
        for (kind, window), digest in zip(self._limits, digests, strict=True):
            key = self._keys.admin_login_failures(kind, digest)
            try:
                await window.hit(key)
            except RateLimited:
                for hit_window, hit_key in [*counted, (window, key)]:
                    await hit_window.refund(hit_key)
                raise
            counted.append((window, key))
        return Attempt(tuple(key for _, key in counted))

    async def succeeded(self, attempt: Attempt) -> None:
        """Takes back an attempt that logged in: only failures count."""
        for (_, window), key in zip(self._limits, attempt.keys, strict=True):
            await window.refund(key)


def _username_digest(username: str) -> str:
    """Usernames that differ only in case count as one: guessing at variants gains nothing."""
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]


def login_throttle() -> LoginThrottle:
    return LoginThrottle(
        get_redis(),
        keys=keys(),
        per_address=settings.CHATBRIDGE_ADMIN_LOGIN_FAILURES_PER_ADDRESS,
        per_username=settings.CHATBRIDGE_ADMIN_LOGIN_FAILURES_PER_USERNAME,
        window=settings.CHATBRIDGE_ADMIN_LOGIN_WINDOW,
    )


async def throttled_login(request: HttpRequest) -> HttpResponse:
    """admin.site.login, with every POST counted first (see the module's docstring)."""
    if request.method != "POST":
        return await sync_to_async(admin.site.login)(request)
    throttle = login_throttle()
    try:
        attempt = await throttle.attempt(
            address=request_address(request), username=request.POST.get("username", "")
        )
    except RateLimited as refused:
        return await sync_to_async(refusal)(request, refused.retry_after)
    response = await sync_to_async(admin.site.login)(request)
    if isinstance(response, HttpResponseRedirect):  # where a login that succeeded goes next
        await throttle.succeeded(attempt)
    return response


class RefusedLoginForm(AdminAuthenticationForm):
    """An empty login form whose only error is the refusal (the admin's template shows it)."""

    def __init__(self, request: HttpRequest, message: str) -> None:
        super().__init__(request)
        self.message = message

    def non_field_errors(self):
        return self.error_class([self.message], error_class="nonfield", renderer=self.renderer)


def refusal(request: HttpRequest, retry_after: float) -> HttpResponse:
    """The login page, empty, saying why it refused; 429 with Retry-After."""
    seconds = max(1, math.ceil(retry_after))
    minutes = math.ceil(seconds / 60)
    form = RefusedLoginForm(
        request, REFUSAL.format(minutes=f"{minutes} minute" + ("" if minutes == 1 else "s"))
    )
    context = {
        **admin.site.each_context(request),
        "title": gettext("Log in"),
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
        "form": form,
        REDIRECT_FIELD_NAME: request.POST.get(REDIRECT_FIELD_NAME) or reverse("admin:index"),
    }
    request.current_app = admin.site.name
    response = TemplateResponse(request, "admin/login.html", context, status=429)
    response.render()
    response["Retry-After"] = str(seconds)
    add_never_cache_headers(response)
    return response
