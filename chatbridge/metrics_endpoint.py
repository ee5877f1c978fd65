"""/metrics: this process's Prometheus metrics (chatbridge.metrics), for its scraper only.

It answers a request that carries `Authorization: Bearer <CHATBRIDGE_METRICS_TOKEN>`
(compared in constant time) or comes straight from an address in
CHATBRIDGE_METRICS_ALLOWED_NETWORKS. The address is the connection's peer (REMOTE_ADDR), never
X-Forwarded-For, which a client writes itself. Anyone else gets 404, as if there were no such
page, and so does everyone while neither setting is set: the endpoint is off until an operator
says who may read it.

Processes that serve no HTTP (`manage.py relay`, `manage.py workers`) export theirs on a port
of their own when asked (`--metrics-port`, see `add_metrics_arguments`), from
prometheus_client's own server: it has no authentication, so it listens on loopback unless
told otherwise.
"""

import argparse
import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, start_http_server

BEARER = "bearer "


def has_token(request: HttpRequest) -> bool:
    expected = settings.CHATBRIDGE_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if not expected or header[: len(BEARER)].lower() != BEARER:
        return False
    return hmac.compare_digest(header[len(BEARER) :].strip().encode(), expected.encode())


def from_allowed_network(request: HttpRequest) -> bool:
    networks = settings.CHATBRIDGE_METRICS_ALLOWED_NETWORKS
    if not networks:
        return False
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in network for network in networks)


async def metrics(request: HttpRequest) -> HttpResponse:
    if not (has_token(request) or from_allowed_network(request)):
        raise Http404()
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a management command that can export its process's metrics."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve this process's Prometheus metrics on this port (default: not at all)",
    )
    parser.add_argument(
        "--metrics-address",
        default="127.0.0.1",
        help="the address the metrics port listens on (default 127.0.0.1; it has no "
        "authentication: choose an interface only the scraper reaches)",
    )


def serve_metrics(options: dict) -> None:
    """Starts the metrics server that `options` (a command's) ask for, in a daemon thread."""
    if options.get("metrics_port"):
        start_http_server(options["metrics_port"], addr=options["metrics_address"])
