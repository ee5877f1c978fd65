"""Liveness and readiness for load balancers and `make run`."""

from django.http import HttpRequest, JsonResponse

from chatbridge.redis import get_redis


async def healthz(request: HttpRequest) -> JsonResponse:
    try:
        await get_redis().ping()
    except Exception:
        return JsonResponse({"status": "unavailable", "redis": "down"}, status=503)
    return JsonResponse({"status": "ok", "redis": "up"})
