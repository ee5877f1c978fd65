"""Django's middleware hooks on an API request run on the event loop, not on a thread."""

import sys
import threading

import pytest
from django.core import signals

from chatbridge.api.inline_middleware import API_POLICY
from chatbridge.asgi import django_asgi_app, start_views_on_the_loop
from chatbridge.asgi_http import IdleThreads
from tests.support.rest import bearer

pytestmark = pytest.mark.django_db(transaction=True)

HOOKS = {"process_request", "process_view", "process_response"}


@pytest.fixture(autouse=True)
def no_idle_request_threads(monkeypatch):
    """Requests start their threads afresh, for the profile function to see what runs there:
    it is set only for threads started meanwhile."""
    monkeypatch.setattr(django_asgi_app, "threads", IdleThreads())


class HookWatch:
    """Notes each middleware hook that starts while the block runs and that `wanted` keeps: a
    profile function of this thread and of every thread started meanwhile."""

    def __init__(self) -> None:
        self.loop_thread = threading.get_ident()
        self.seen: list[str] = []

    def wanted(self, frame) -> bool:
        return True

    def __call__(self, frame, event, arg) -> None:
        if event == "call" and frame.f_code.co_name in HOOKS and self.wanted(frame):
            self.seen.append(f"{frame.f_globals.get('__name__')}.{frame.f_code.co_name}")

    def __enter__(self) -> "HookWatch":
        sys.setprofile(self)
        threading.setprofile(self)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)
        threading.setprofile(None)


class HooksOffTheLoop(HookWatch):
    """The hooks that start on a thread other than the test's own."""

    def wanted(self, frame) -> bool:
        return threading.get_ident() != self.loop_thread


class HooksRun(HookWatch):
    """The hooks of these middleware modules, on any thread."""

    def __init__(self, *modules: str) -> None:
        super().__init__()
        self.modules = set(modules)

    def wanted(self, frame) -> bool:
        return frame.f_globals.get("__name__") in self.modules


async def test_an_api_request_runs_no_middleware_hook_on_a_thread(api, chat):
    with HooksOffTheLoop() as hooks:
        status = await api.get(f"/chats/{chat['chat_id']}", headers=bearer(chat))

    assert status.status_code == 200
    assert hooks.seen == []


async def test_a_page_outside_the_api_still_runs_its_hooks_on_a_thread(api):
    with HooksOffTheLoop() as hooks:
        await api.get("http://testserver/admin/login/")

    assert "django.contrib.sessions.middleware.process_request" in hooks.seen


class StartedOffTheLoop(HooksOffTheLoop):
    """Notes every receiver of Django's request_started that runs on a thread other than
    the test's own (asend hands its sync receivers to one through `sync_send`)."""

    def __call__(self, frame, event, arg) -> None:
        if (
            event == "call"
            and threading.get_ident() != self.loop_thread
            and frame.f_back is not None
            and frame.f_back.f_code.co_name == "sync_send"
            and frame.f_back.f_locals.get("self") is signals.request_started
            and frame.f_code.co_name != "sync_send"
        ):
            self.seen.append(frame.f_code.co_name)


async def test_an_api_request_starts_its_view_without_a_thread_hop(api, chat):
    # As chatbridge.asgi leaves Django when it loads: Django's test Client connects
    # close_old_connections again after each of its requests.
    start_views_on_the_loop()
    with StartedOffTheLoop() as started:
        page = await api.get(f"/chats/{chat['chat_id']}/events", headers=bearer(chat))

    assert page.status_code == 200
    assert started.seen == []


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_a_probe_runs_no_middleware_hook_on_a_thread(api, path):
    with HooksOffTheLoop() as hooks:
        answer = await api.get(f"http://testserver{path}")

    assert answer.status_code == 200
    assert hooks.seen == []


async def test_the_metrics_run_no_middleware_hook_on_a_thread(api, settings):
    settings.CHATBRIDGE_METRICS_TOKEN = "scrape"
    with HooksOffTheLoop() as hooks:
        answer = await api.get(
            "http://testserver/metrics", headers={"Authorization": "Bearer scrape"}
        )

    assert answer.status_code == 200
    assert hooks.seen == []


PAGE_ONLY_MODULES = (
    "django.contrib.sessions.middleware",
    "django.contrib.auth.middleware",
    "django.contrib.messages.middleware",
)


async def test_an_api_request_skips_what_only_pages_use(api, chat):
    with HooksRun(*PAGE_ONLY_MODULES) as hooks:
        status = await api.get(f"/chats/{chat['chat_id']}", headers=bearer(chat))

    assert status.status_code == 200
    assert hooks.seen == []


async def test_a_page_still_has_its_session_user_and_messages(api):
    with HooksRun(*PAGE_ONLY_MODULES) as hooks:
        await api.get("http://testserver/admin/login/")

    assert {hook.rsplit(".", 1)[0] for hook in hooks.seen} == set(PAGE_ONLY_MODULES)


async def test_a_json_answer_of_the_api_refuses_every_source_and_frame(api, chat):
    status = await api.get(f"/chats/{chat['chat_id']}", headers=bearer(chat))

    assert status.headers["Content-Security-Policy"] == API_POLICY


async def test_an_api_error_refuses_every_source_and_frame(api):
    missing = await api.get("/chats/nochat", headers={"Authorization": "Bearer nothing"})

    assert missing.headers["Content-Type"].startswith("application/problem+json")
    assert missing.headers["Content-Security-Policy"] == API_POLICY


async def test_a_page_keeps_the_pages_policy(api):
    page = await api.get("http://testserver/admin/login/")

    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
