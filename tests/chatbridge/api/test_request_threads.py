"""An API request's synchronous work runs on a thread kept from earlier requests."""

import threading

import pytest
from django.core.signals import request_started

pytestmark = pytest.mark.django_db(transaction=True)


class RequestThreadsSeen:
    """The thread each request's request_started receivers ran on (Django sends the signal
    on the request's thread)."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def __call__(self, **kwargs: object) -> None:
        self.threads.append(threading.current_thread())

    def __enter__(self) -> "RequestThreadsSeen":
        request_started.connect(self, weak=False)
        return self

    def __exit__(self, *exc: object) -> None:
        request_started.disconnect(self)


async def test_api_requests_one_after_another_run_on_one_kept_thread(api, widget):
    with RequestThreadsSeen() as seen:
        for _ in range(3):
            assert (await api.get("/widgets/shop/config")).status_code == 200
    assert len(seen.threads) == 3
    assert seen.threads[0] is seen.threads[1] is seen.threads[2]
    assert seen.threads[0] is not threading.current_thread()
