"""Every Prometheus metric ChatBridge exports, defined in one place.

The modules that own an event record it (the gateway its Connect calls, the consumer its
clients, the supervisor its leases...); they import the metric from here, so that the names,
labels and help texts read as one list. Values are per process, in prometheus_client's default
registry: each ASGI process (and `manage.py relay` or `workers`) is scraped on its own, at
/metrics (chatbridge.metrics_endpoint), and Prometheus tells processes apart by their target.

Labels take a small, fixed set of values (operation names, states, kinds), never a chat id:
one time series per chat would grow without bound.
"""

from prometheus_client import Counter, Gauge, Histogram

# Clients.

WEBSOCKET_CLIENTS = Gauge(
    "chatbridge_websocket_clients",
    "Client websockets open on /ws/chat/ in this process, authenticated or not.",
)
HTTP_STREAMS = Gauge(
    "chatbridge_http_streams",
    "REST event streams open in this process: Server-Sent Events (kind=sse) and long-polls "
    "waiting for an event (kind=long_poll).",
    ["kind"],
)
RATE_LIMITED = Counter(
    "chatbridge_rate_limited",
    "Requests and frames refused with rate_limited, by the limit that refused them (ws_*: a "
    "websocket connection's buckets, chat_*: a chat's windows, api_*: the REST API's).",
    ["kind"],
)

# Chats and their upstreams.

ACTIVE_CHATS = Gauge(
    "chatbridge_active_chats",
    "Chats not yet ended, across every process, as this process's supervisor last counted "
    "them (the same value in every process: aggregate with max, not sum).",
)
UPSTREAM_STATES = ("connecting", "connected", "backing_off")
UPSTREAMS = Gauge(
    "chatbridge_upstreams",
    "Connect websockets (one per chat) this process holds, by state: connecting (asking for "
    "a connection, subscribing, filling the gap), connected, backing_off (waiting to retry).",
    ["state"],
)
LEASE_TAKEOVERS = Counter(
    "chatbridge_lease_takeovers",
    "Chats whose upstream the supervisor's scan claimed because no process held their lease "
    "(its owner died, or no client had opened the chat here yet).",
)
CHATS_ABANDONED = Counter(
    "chatbridge_chats_abandoned",
    "Chats ended because their customer had no live client for CHATBRIDGE_ABANDON_AFTER "
    "seconds (chatbridge.realtime.abandonment).",
)
LEASES_LOST = Counter(
    "chatbridge_leases_lost",
    "Leases this process found taken by another when renewing them; their upstream stopped.",
)
CONNECTION_REFRESHES = Counter(
    "chatbridge_connection_refreshes",
    "New Connect participant connections: reason=upstream for a new websocket URL, "
    "reason=token for a connection token near its expiry or refused by Connect.",
    ["reason"],
)
EVENT_DELIVERY_LAG = Histogram(
    "chatbridge_event_delivery_lag_seconds",
    "Seconds from an event's append to the event log to its delivery to a live client "
    "(websocket, staff live view or SSE), for events delivered as they are rung. Wall clocks: "
    "across hosts, the lag includes their clock skew.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# Amazon Connect, at the one boundary where boto3 is called (chatbridge.connect.gateway).

CONNECT_CALLS = Counter(
    "chatbridge_connect_calls",
    "Amazon Connect API calls by operation (boto3's method name) and outcome: ok, throttled, "
    "access_denied, invalid, quota_exceeded, conflict, not_found or unavailable (server "
    "errors, timeouts, connection failures), after botocore's retries; cancelled when the "
    "caller stopped waiting.",
    ["operation", "outcome"],
)
CONNECT_CALL_SECONDS = Histogram(
    "chatbridge_connect_call_duration_seconds",
    "Seconds an Amazon Connect API call took, botocore's retries and the wait for a thread "
    "of the executor included.",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
CONNECT_RETRIES = Counter(
    "chatbridge_connect_retries",
    "Attempts botocore repeated (throttling, 5xx, connection errors) within Amazon Connect "
    "API calls, by operation.",
    ["operation"],
)

CONNECT_BUDGET_WAIT_SECONDS = Histogram(
    "chatbridge_connect_budget_wait_seconds",
    "Seconds an Amazon Connect call waited for a token of the shared budget "
    "(chatbridge.connect.budget) before it was made, by operation (Connect's name).",
    ["operation"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
CONNECT_BUDGET_QUEUED = Counter(
    "chatbridge_connect_budget_queued",
    "Amazon Connect calls that found the shared budget empty and queued for a token.",
    ["operation"],
)
CONNECT_BUDGET_WAITING = Gauge(
    "chatbridge_connect_budget_waiting",
    "Amazon Connect calls of this process queued for a token of the shared budget now (the "
    "queue's depth, this process's share: aggregate with sum).",
    ["operation"],
)
CONNECT_BUDGET_DROPS = Counter(
    "chatbridge_connect_budget_drops",
    "Best-effort Amazon Connect calls (typing) dropped because the shared budget had no "
    "token free.",
    ["operation"],
)
CONNECT_BUDGET_LEASED = Counter(
    "chatbridge_connect_budget_leased",
    "Tokens of the shared budget this process took ahead for customers' messages (a lease, "
    "where the quota is raised: CHATBRIDGE_CONNECT_LEASE).",
    ["operation"],
)
CONNECT_BUDGET_LEASE_SPENT = Counter(
    "chatbridge_connect_budget_lease_spent",
    "Amazon Connect calls made on a leased token, without a round trip to Redis (the leased "
    "tokens not spent lapsed unused).",
    ["operation"],
)
CONNECT_BUDGET_SLOWDOWNS = Counter(
    "chatbridge_connect_budget_slowdowns",
    "Times Amazon Connect throttled a call despite the shared budget (throttles less than a "
    "second apart count once): the budget emptied the operation's bucket, and halved its rate "
    "when the last throttle was less than CHATBRIDGE_CONNECT_RECOVERY seconds before.",
    ["operation"],
)

# The feed's stream workers.

FEED_PENDING = Gauge(
    "chatbridge_feed_pending_entries",
    "Feed entries delivered to a worker group but not yet acknowledged (group=archive: the "
    "transcript archiver, group=webhooks: webhook delivery), as of the group's last drain.",
    ["group"],
)
FEED_LAG = Gauge(
    "chatbridge_feed_lag_entries",
    "Feed entries not yet delivered to a worker group, as of its last drain (Redis 7 or "
    "newer reports it).",
    ["group"],
)
FEED_LAG_SECONDS = Gauge(
    "chatbridge_feed_lag_seconds",
    "Age of the oldest feed entry not yet delivered to a worker group, as of its last drain "
    "(0 when it has caught up); by Redis's clock.",
    ["group"],
)
WEBHOOK_RETRIES_WAITING = Gauge(
    "chatbridge_webhook_retries_waiting",
    "Webhook deliveries waiting for their retry, as of the webhook worker's last drain.",
)

for _state in UPSTREAM_STATES:
    UPSTREAMS.labels(state=_state)
