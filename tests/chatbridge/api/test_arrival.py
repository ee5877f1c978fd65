"""An API request knows when it reached ChatBridge, before anything on its way waited: a chat
start's place in the queue for Connect's rate counts from then."""

import time

from django.http import HttpResponse
from django.test import AsyncRequestFactory

from chatbridge.api.middleware import ApiMiddleware, arrived_at


async def test_an_api_request_knows_when_it_arrived(redis_client):
    seen: list[float | None] = []

    async def view(request):
        seen.append(arrived_at(request))
        return HttpResponse(status=204)

    before = time.monotonic()
    await ApiMiddleware(view)(AsyncRequestFactory().get("/api/v1/widgets/shop/config"))
    assert seen and seen[0] is not None and before <= seen[0] <= time.monotonic()


async def test_other_requests_are_not_stamped(redis_client):
    seen: list[float | None] = []

    async def view(request):
        seen.append(arrived_at(request))
        return HttpResponse(status=204)

    await ApiMiddleware(view)(AsyncRequestFactory().get("/admin/"))
    assert seen == [None]
