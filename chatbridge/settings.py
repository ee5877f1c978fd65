"""ChatBridge settings.

Every setting comes from the environment, with defaults that are safe for a developer's
machine: local Redis, SQLite and the bundled Amazon Connect emulator. Production sets
DEBUG=0, SECRET_KEY, CHATBRIDGE_TOKEN_KEYS, ALLOWED_HOSTS and the CONNECT_* variables, and
leaves both CONNECT_*_ENDPOINT_URL unset so that boto3 talks to AWS.
"""

import importlib.util
import ipaddress
import os
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from csp import constants as csp_constants
from django.core.exceptions import ImproperlyConfigured

from chatbridge.eventloop import chosen_loop
from chatbridge.redis import SentinelConfig, channel_layer_hosts, parse_sentinels
from chatbridge.staticfiles import add_public_headers

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


_LOCAL_SECRET_KEY = "chatbridge-local-development-key-not-for-production"


def production_secret_key(value: str) -> str:
    """SECRET_KEY for DEBUG off: never the public development key, never guessable.

    It signs history tokens and admin sessions: with a known key anyone can forge them. The
    bar is Django's own (security.W009): 50 characters or more, 5 or more distinct ones.
    """
    if not value or value == _LOCAL_SECRET_KEY:
        raise ImproperlyConfigured(
            "Set SECRET_KEY when DEBUG is off (the development key is public)."
        )
    if len(value) < 50 or len(set(value)) < 5 or value.startswith("django-insecure-"):
        raise ImproperlyConfigured(
            "SECRET_KEY is too weak: use 50 or more random characters, e.g. "
            'python -c "import secrets; print(secrets.token_urlsafe(50))".'
        )
    return value


def production_token_keys(values: list[str]) -> list[str]:
    """CHATBRIDGE_TOKEN_KEYS for DEBUG off: required, each a valid Fernet key.

    Without them the key that encrypts Connect's tokens would be derived from SECRET_KEY;
    a malformed key would only fail at the first chat, so it fails start-up instead.
    """
    if not values:
        raise ImproperlyConfigured("Set CHATBRIDGE_TOKEN_KEYS when DEBUG is off.")
    for position, value in enumerate(values, start=1):
        try:
            Fernet(value.encode())
        except ValueError:
            raise ImproperlyConfigured(
                f"CHATBRIDGE_TOKEN_KEYS: key {position} is not a Fernet key (32 url-safe "
                "base64-encoded bytes)."
            ) from None
    return values


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "" if not DEBUG else _LOCAL_SECRET_KEY)
if not DEBUG:
    SECRET_KEY = production_secret_key(SECRET_KEY)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "chatbridge",
    "chatbridge.archive",
    "webwidget",
]
# The emulator is a development and test tool: deployments may leave the package out.
if importlib.util.find_spec("connect_emulator") is not None:
    INSTALLED_APPS.append("connect_emulator")

# Django's own middleware, whose hooks run on the event loop for /api/ requests rather than
# hopping to a thread and back for each (chatbridge.api.inline_middleware).
MIDDLEWARE = [
    "chatbridge.api.inline_middleware.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "chatbridge.api.cors.ApiCorsMiddleware",
    "chatbridge.api.middleware.ApiMiddleware",
    "chatbridge.api.inline_middleware.SessionMiddleware",
    "chatbridge.api.inline_middleware.CommonMiddleware",
    "chatbridge.api.inline_middleware.CsrfViewMiddleware",
    "chatbridge.api.inline_middleware.AuthenticationMiddleware",
    "chatbridge.api.inline_middleware.MessageMiddleware",
    "chatbridge.api.inline_middleware.XFrameOptionsMiddleware",
    "chatbridge.api.inline_middleware.CSPMiddleware",
]
# Django's deploy checks look for its middleware by path, not for the subclasses above:
# chatbridge.checks runs them on the classes those extend, and reports what is truly missing.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "chatbridge.urls"
ASGI_APPLICATION = "chatbridge.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
# Static files (chatbridge/staticfiles.py). On: collectstatic's hashed, gzipped copies in
# STATIC_ROOT, hashed names cached forever. Off: the sources, found and re-read per request.
# Its own switch rather than DEBUG, so that an image build runs collectstatic with the storage
# production serves without production's keys.
CHATBRIDGE_STATIC_MANIFEST = env_bool("CHATBRIDGE_STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "chatbridge.staticfiles.ManifestStaticFilesStorage"
        if CHATBRIDGE_STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
SERVESTATIC_USE_MANIFEST = CHATBRIDGE_STATIC_MANIFEST
SERVESTATIC_USE_FINDERS = not CHATBRIDGE_STATIC_MANIFEST
SERVESTATIC_AUTOREFRESH = not CHATBRIDGE_STATIC_MANIFEST
# Files under their plain names (loader.js, which host pages embed by its stable URL): five
# minutes, then revalidated; hashed names are immutable for a year whatever this says.
SERVESTATIC_MAX_AGE = 300 if CHATBRIDGE_STATIC_MANIFEST else 0
SERVESTATIC_ADD_HEADERS_FUNCTION = add_public_headers

SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# HTTPS. With DEBUG off every page redirects to https and asks browsers to stay there (HSTS);
# The probes (/healthz, /readyz) and /metrics stay reachable over plain HTTP for load balancers
# and Prometheus, which reach each process directly.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# The header a TLS-terminating proxy sets to "https" (e.g. X-Forwarded-Proto). Set it only
# when every request passes through such a proxy that overwrites the header.
_PROXY_SSL_HEADER = env_str("SECURE_PROXY_SSL_HEADER")
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _PROXY_SSL_HEADER.strip().upper().replace("-", "_"),
        "https",
    )

# Redis holds chat sessions, event logs, leases, rate limits and the channel layer.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Redis Sentinel (high availability): with sentinels listed, every client reaches the primary
# they name, and REDIS_URL gives only its credentials, db and TLS (its host is not used).
REDIS_SENTINELS = env_list("REDIS_SENTINELS")
REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER", "mymaster")
REDIS_SENTINEL_PASSWORD = env_str("REDIS_SENTINEL_PASSWORD")
try:
    _REDIS_SENTINEL = (
        SentinelConfig(
            parse_sentinels(REDIS_SENTINELS),
            REDIS_SENTINEL_MASTER,
            REDIS_SENTINEL_PASSWORD or None,
        )
        if REDIS_SENTINELS
        else None
    )
except ValueError as error:
    raise ImproperlyConfigured(f"REDIS_SENTINELS: {error}") from None

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": channel_layer_hosts(REDIS_URL, _REDIS_SENTINEL),
            "capacity": env_int("CHANNEL_LAYER_CAPACITY", 1000),
            "expiry": 60,
        },
    }
}

# Amazon Connect. Unset endpoint URLs mean the real AWS endpoints of CONNECT_REGION.
CONNECT_REGION = env_str("CONNECT_REGION", "us-east-1")
CONNECT_INSTANCE_ID = env_str("CONNECT_INSTANCE_ID", "00000000-0000-4000-8000-000000000001")
CONNECT_CONTACT_FLOW_ID = env_str("CONNECT_CONTACT_FLOW_ID", "00000000-0000-4000-8000-000000000002")
CONNECT_ENDPOINT_URL = env_str("CONNECT_ENDPOINT_URL") or None
CONNECT_PARTICIPANT_ENDPOINT_URL = env_str("CONNECT_PARTICIPANT_ENDPOINT_URL") or None


def _region_endpoints(items: list[str]) -> dict[str, str]:
    """`region=url` pairs: the endpoint (both services) of each other region a widget names."""
    endpoints = {}
    for item in items:
        region, sep, url = item.partition("=")
        if not sep or not region.strip() or not url.strip():
            raise ImproperlyConfigured(f"CONNECT_REGION_ENDPOINT_URLS: {item!r} is not region=url")
        endpoints[region.strip()] = url.strip()
    return endpoints


# Endpoints of the regions other than CONNECT_REGION that widgets name (unset: AWS's own).
CONNECT_REGION_ENDPOINT_URLS = _region_endpoints(env_list("CONNECT_REGION_ENDPOINT_URLS"))
# botocore's retry mode ("standard" or "adaptive") and its total attempts per call.
CONNECT_RETRY_MODE = env_str("CONNECT_RETRY_MODE", "standard")
CONNECT_MAX_ATTEMPTS = env_int("CONNECT_MAX_ATTEMPTS", 4)
CONNECT_CONNECT_TIMEOUT = env_float("CONNECT_CONNECT_TIMEOUT", 5.0)
CONNECT_READ_TIMEOUT = env_float("CONNECT_READ_TIMEOUT", 15.0)
# Threads that run boto3 calls; botocore's HTTP pool is sized to match.
CONNECT_THREADS = env_int("CONNECT_THREADS", 32)
# Threads for the upstreams' own calls (new connections, gap fills), kept apart from sends.
CONNECT_BACKGROUND_THREADS = env_int("CONNECT_BACKGROUND_THREADS", 8)
# The shared Connect budget (chatbridge.connect.budget): each operation's rate and burst, as
# Connect's quotas of the account allow (AWS's defaults unless listed here).
CHATBRIDGE_CONNECT_RATES = env_str("CHATBRIDGE_CONNECT_RATES", "")
# The budget of other Regions widgets route chats to, where their quotas differ from
# CHATBRIDGE_CONNECT_RATES: "REGION: OPERATION=RATE/BURST, ...; REGION: ...".
CHATBRIDGE_CONNECT_REGION_RATES = env_str("CHATBRIDGE_CONNECT_REGION_RATES", "")
# Seconds a Connect call may wait for its budget (queued) before it fails as throttled.
CHATBRIDGE_CONNECT_MAX_WAIT = env_float("CHATBRIDGE_CONNECT_MAX_WAIT", 10.0)
# The same for background work (upstreams' new connections and gap fills), which no customer
# waits on: it keeps its place in the queue rather than backing off and queuing again.
CHATBRIDGE_CONNECT_BACKGROUND_MAX_WAIT = env_float("CHATBRIDGE_CONNECT_BACKGROUND_MAX_WAIT", 300.0)
# The same for a chat start, whose customer sees their place in the queue while it waits.
CHATBRIDGE_CONNECT_START_MAX_WAIT = env_float("CHATBRIDGE_CONNECT_START_MAX_WAIT", 30.0)
# Calls that may wait for one operation's budget at once, across every process.
CHATBRIDGE_CONNECT_MAX_QUEUE = env_int("CHATBRIDGE_CONNECT_MAX_QUEUE", 1000)
# After Connect throttles, the operation's rate halves; it doubles back every this many seconds.
CHATBRIDGE_CONNECT_RECOVERY = env_float("CHATBRIDGE_CONNECT_RECOVERY", 10.0)
# Tokens a process takes ahead for customers' messages while an operation's bucket is more than
# half full and nobody waits (0: none), spent without a round trip within
# CHATBRIDGE_CONNECT_LEASE_SECONDS. Only where the burst is at least four leases (a raised quota).
CHATBRIDGE_CONNECT_LEASE = env_int("CHATBRIDGE_CONNECT_LEASE", 8)
CHATBRIDGE_CONNECT_LEASE_SECONDS = env_float("CHATBRIDGE_CONNECT_LEASE_SECONDS", 0.5)
# Threads that start chats (StartChatContact, the first CreateParticipantConnection): few, and
# apart from the others, so that a wave of new chats queues behind itself, not ahead of sends.
CONNECT_START_THREADS = env_int("CONNECT_START_THREADS", 4)
# Connect's default chat duration is 25 hours; sessions live as long as their chat may.
CONNECT_CHAT_DURATION_MINUTES = env_int("CONNECT_CHAT_DURATION_MINUTES", 1500)

# Origins whose pages may embed the widget and open /ws/chat/.
CHATBRIDGE_ALLOWED_ORIGINS = env_list(
    "CHATBRIDGE_ALLOWED_ORIGINS", "http://localhost:8000,http://127.0.0.1:8000"
)
# Fernet keys (urlsafe base64, 32 bytes) for Connect tokens at rest; the first encrypts,
# all decrypt, so keys can be rotated. Unset: a key derived from SECRET_KEY.
CHATBRIDGE_TOKEN_KEYS = env_list("CHATBRIDGE_TOKEN_KEYS")
if not DEBUG:
    CHATBRIDGE_TOKEN_KEYS = production_token_keys(CHATBRIDGE_TOKEN_KEYS)
# Refresh the connection token this long before Connect says it expires.
CHATBRIDGE_REFRESH_MARGIN = env_float("CHATBRIDGE_REFRESH_MARGIN", 60.0)
# How long an ended chat's session stays readable (history, "chat ended" answers).
CHATBRIDGE_ENDED_SESSION_TTL = env_int("CHATBRIDGE_ENDED_SESSION_TTL", 3600)
CHATBRIDGE_REDIS_PREFIX = env_str("CHATBRIDGE_REDIS_PREFIX", "chatbridge")

# The Connect websocket of each chat (one per chat across all processes).
CHATBRIDGE_UPSTREAM_HEARTBEAT = env_float("CHATBRIDGE_UPSTREAM_HEARTBEAT", 10.0)
CHATBRIDGE_UPSTREAM_BACKOFF_INITIAL = env_float("CHATBRIDGE_UPSTREAM_BACKOFF_INITIAL", 1.0)
CHATBRIDGE_UPSTREAM_BACKOFF_MAX = env_float("CHATBRIDGE_UPSTREAM_BACKOFF_MAX", 30.0)
CHATBRIDGE_LEASE_TTL = env_float("CHATBRIDGE_LEASE_TTL", 15.0)
CHATBRIDGE_SUPERVISOR_INTERVAL = env_float("CHATBRIDGE_SUPERVISOR_INTERVAL", 1.0)
# 0 for processes that only start chats (deployment.md, "Starts on processes of their own").
CHATBRIDGE_HOLD_UPSTREAMS = env_bool("CHATBRIDGE_HOLD_UPSTREAMS", True)
# Seconds each step of a new chat's setup (its websocket's authentication, its upstream's
# opening) waits at most while the process relays live messages; 0 never waits. See
# chatbridge/realtime/priority.py.
CHATBRIDGE_LIVE_FIRST_MAX_WAIT = env_float("CHATBRIDGE_LIVE_FIRST_MAX_WAIT", 0.05)
if CHATBRIDGE_LIVE_FIRST_MAX_WAIT < 0:
    raise ImproperlyConfigured("CHATBRIDGE_LIVE_FIRST_MAX_WAIT must be at least 0")
CHATBRIDGE_PROCESS_TTL = env_float("CHATBRIDGE_PROCESS_TTL", 3.0)
# Seconds an active chat may go without any live client of the customer (websocket, SSE,
# waiting long-poll) before ChatBridge ends it in Connect as abandoned; 0 never does.
CHATBRIDGE_ABANDON_AFTER = env_float("CHATBRIDGE_ABANDON_AFTER", 300.0)
# Every process drains the archive stream into the database unless told not to (for
# deployments that run `manage.py workers` or `manage.py relay` for it).
CHATBRIDGE_RUN_ARCHIVER = env_bool("CHATBRIDGE_RUN_ARCHIVER", True)
# Seconds the archiver gathers events before writing them in one transaction.
CHATBRIDGE_ARCHIVE_LINGER = env_float("CHATBRIDGE_ARCHIVE_LINGER", 1.0)
# The event loop under daphne (chatbridge/eventloop.py): `python -m chatbridge.serve` reads it
# before Django starts; read here too, so that a wrong value stops start-up like any other.
CHATBRIDGE_EVENT_LOOP = chosen_loop(env_str("CHATBRIDGE_EVENT_LOOP", "uvloop"))
# Seconds a thread may keep the GIL while another waits for it, in serving processes
# (sys.setswitchinterval; Python's default is 0.005): see chatbridge/runtime.py.
CHATBRIDGE_SWITCH_INTERVAL = env_float("CHATBRIDGE_SWITCH_INTERVAL", 0.001)
if not 0 < CHATBRIDGE_SWITCH_INTERVAL <= 1:
    raise ImproperlyConfigured("CHATBRIDGE_SWITCH_INTERVAL must be above 0 and at most 1 second")
# Python's garbage collector thresholds for serving processes (see chatbridge/runtime.py).
try:
    CHATBRIDGE_GC_THRESHOLDS = tuple(
        int(part) for part in env_list("CHATBRIDGE_GC_THRESHOLDS", "10000,100,20")
    )
except ValueError:
    CHATBRIDGE_GC_THRESHOLDS = ()
if len(CHATBRIDGE_GC_THRESHOLDS) != 3 or min(CHATBRIDGE_GC_THRESHOLDS) < 1:
    raise ImproperlyConfigured(
        "CHATBRIDGE_GC_THRESHOLDS takes three positive integers, comma-separated"
    )

# The client websocket (/ws/chat/): limits that keep one client from hurting the others.
CHATBRIDGE_WS_AUTH_TIMEOUT = env_float("CHATBRIDGE_WS_AUTH_TIMEOUT", 10.0)
CHATBRIDGE_WS_IDLE_TIMEOUT = env_float("CHATBRIDGE_WS_IDLE_TIMEOUT", 120.0)
CHATBRIDGE_WS_MAX_FRAME_BYTES = env_int("CHATBRIDGE_WS_MAX_FRAME_BYTES", 65536)
CHATBRIDGE_WS_MESSAGES_PER_SECOND = env_float("CHATBRIDGE_WS_MESSAGES_PER_SECOND", 5.0)
CHATBRIDGE_WS_MESSAGE_BURST = env_int("CHATBRIDGE_WS_MESSAGE_BURST", 10)
CHATBRIDGE_CHAT_MESSAGES_PER_MINUTE = env_int("CHATBRIDGE_CHAT_MESSAGES_PER_MINUTE", 60)
CHATBRIDGE_TYPING_INTERVAL = env_float("CHATBRIDGE_TYPING_INTERVAL", 3.0)
CHATBRIDGE_RECEIPT_DELAY = env_float("CHATBRIDGE_RECEIPT_DELAY", 0.3)
# Frames that cost a Connect call, Redis or a replay of the log: per connection (all at once,
# then refilled evenly over the minute) and per chat (a window shared by every process). A
# widget sends a receipt per message, typing every 10 s, one end, and no sync.
CHATBRIDGE_WS_TYPING_PER_MINUTE = env_int("CHATBRIDGE_WS_TYPING_PER_MINUTE", 30)
CHATBRIDGE_WS_RECEIPTS_PER_MINUTE = env_int("CHATBRIDGE_WS_RECEIPTS_PER_MINUTE", 120)
CHATBRIDGE_CHAT_RECEIPTS_PER_MINUTE = env_int("CHATBRIDGE_CHAT_RECEIPTS_PER_MINUTE", 600)
CHATBRIDGE_WS_SYNCS_PER_MINUTE = env_int("CHATBRIDGE_WS_SYNCS_PER_MINUTE", 6)
CHATBRIDGE_CHAT_SYNCS_PER_MINUTE = env_int("CHATBRIDGE_CHAT_SYNCS_PER_MINUTE", 30)
CHATBRIDGE_WS_ENDS_PER_MINUTE = env_int("CHATBRIDGE_WS_ENDS_PER_MINUTE", 3)
CHATBRIDGE_CHAT_ENDS_PER_MINUTE = env_int("CHATBRIDGE_CHAT_ENDS_PER_MINUTE", 10)

# Live connections (websockets, SSE streams, long-polls) at once, counted across processes:
# per chat (Connect itself allows 5 websockets per participant) and per client address. A
# dead process's connections stop counting after CHATBRIDGE_CONNECTION_SLOT_TTL seconds.
CHATBRIDGE_CONNECTIONS_PER_CHAT = env_int("CHATBRIDGE_CONNECTIONS_PER_CHAT", 5)
CHATBRIDGE_CONNECTIONS_PER_ADDRESS = env_int("CHATBRIDGE_CONNECTIONS_PER_ADDRESS", 20)
CHATBRIDGE_CONNECTION_SLOT_TTL = env_float("CHATBRIDGE_CONNECTION_SLOT_TTL", 30.0)

# Every handler redacts what it writes: signed URLs' query strings, Connect's tokens, bearer
# credentials (chatbridge/logredact.py), whichever library logged them.
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")


def _log_levels(items: list[str]) -> dict[str, str]:
    levels = {}
    for item in items:
        name, _, level = (part.strip() for part in item.partition("="))
        if not name or level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ImproperlyConfigured(f"LOG_LEVELS takes logger=LEVEL items, not {item!r}.")
        levels[name] = level.upper()
    return levels


# Per-logger levels on top of LOG_LEVEL, e.g. "botocore=DEBUG,daphne=INFO". daphne.access is
# daphne's access log, when daphne runs as `python -m chatbridge.serve`.
LOG_LEVELS = {
    "botocore": "WARNING",
    "daphne": "WARNING",
    "daphne.access": "INFO",
} | _log_levels(env_list("LOG_LEVELS"))
# The console's format: "plain" text, or "json", one object per line (chatbridge/logjson.py)
# with the chat's id when the line is about one (chatbridge/logcontext.py).
LOG_FORMAT = env_str("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT is plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A handler runs its filters in order, then its formatter: the formatter gets the
    # redacted text.
    "filters": {
        "redact": {"()": "chatbridge.logredact.RedactingFilter"},
        "chat": {"()": "chatbridge.logcontext.ChatContextFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "chatbridge.logjson.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact", "chat"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Listing "django" takes away the handlers Django gives it and its children (django.server,
    # django.request, ...): their records reach the root's handler, and are redacted too.
    "loggers": {"django": {}} | {name: {"level": level} for name, level in LOG_LEVELS.items()},
}

# Widget and CSP. ChatBridge's own pages (admin, widget frame, demo site) run no inline script
# or style: everything comes from its own origin. A view that needs an inline script asks for
# request.csp_nonce. The widget frame replaces frame-ancestors with its widget's allowed origins
# (webwidget/views.py); every other page refuses to be framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", csp_constants.NONCE],
        "style-src": ["'self'", csp_constants.NONCE],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# The widget frame is served from ChatBridge's own origin and opens /ws/chat/ from it: name
# that origin here (e.g. https://chat.example.com) when it is not in CHATBRIDGE_ALLOWED_ORIGINS.
CHATBRIDGE_PUBLIC_ORIGIN = env_str("CHATBRIDGE_PUBLIC_ORIGIN").rstrip("/")
if CHATBRIDGE_PUBLIC_ORIGIN and CHATBRIDGE_PUBLIC_ORIGIN not in CHATBRIDGE_ALLOWED_ORIGINS:
    CHATBRIDGE_ALLOWED_ORIGINS.append(CHATBRIDGE_PUBLIC_ORIGIN)

# REST API (/api/v1/), its identity tokens and webhooks.
# Requests per minute: per client address, chat starts per address, and per chat.
CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP = env_int(
    "CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP", 600
)
CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP = env_int(
    "CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP", 10
)
CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_CHAT = env_int(
    "CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_CHAT", 300
)
# How many reverse proxies in front of ChatBridge append to X-Forwarded-For (0: none, limit by
# the peer's address). The client address is the entry that many hops from the right, the one
# the outermost trusted proxy saw: entries further left are whatever the client chose to send.
CHATBRIDGE_API_TRUSTED_PROXIES = env_int("CHATBRIDGE_API_TRUSTED_PROXIES", 0)
# The former switch, still honoured as one trusted proxy so that existing deployments keep
# limiting per client rather than per proxy.
if not CHATBRIDGE_API_TRUSTED_PROXIES and env_bool("CHATBRIDGE_API_TRUST_X_FORWARDED_FOR", False):
    CHATBRIDGE_API_TRUSTED_PROXIES = 1
# Longest long-poll (GET .../events?wait=) and the SSE heartbeat interval, in seconds.
CHATBRIDGE_API_MAX_WAIT = env_float("CHATBRIDGE_API_MAX_WAIT", 30.0)
CHATBRIDGE_API_SSE_HEARTBEAT = env_float("CHATBRIDGE_API_SSE_HEARTBEAT", 15.0)
# How long a history token reads its chat's archived transcript (seconds; 30 days).
CHATBRIDGE_API_HISTORY_TOKEN_TTL = env_int("CHATBRIDGE_API_HISTORY_TOKEN_TTL", 30 * 24 * 3600)
# Connect's attachment size limit.
CHATBRIDGE_API_ATTACHMENT_MAX_BYTES = env_int(
    "CHATBRIDGE_API_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024
)
# Continuity: a customer's new chat continues (as a Connect persistent chat) their last one
# if it ended at most this many seconds ago (3 days); 0 turns continuity off.
CHATBRIDGE_CONTINUITY_WINDOW = env_int("CHATBRIDGE_CONTINUITY_WINDOW", 3 * 24 * 3600)
# How long a customer token (the browser's proof of its own past chats) is honoured, seconds.
CHATBRIDGE_CUSTOMER_TOKEN_TTL = env_int("CHATBRIDGE_CUSTOMER_TOKEN_TTL", 30 * 24 * 3600)
# Identity tokens (JWT HS256): allowed clock skew and longest lifetime (exp - iat), seconds.
CHATBRIDGE_IDENTITY_LEEWAY = env_int("CHATBRIDGE_IDENTITY_LEEWAY", 60)
CHATBRIDGE_IDENTITY_MAX_LIFETIME = env_int("CHATBRIDGE_IDENTITY_MAX_LIFETIME", 3600)
# Webhooks to each widget's webhook_url: every process delivers them unless told not to.
CHATBRIDGE_RUN_WEBHOOKS = env_bool("CHATBRIDGE_RUN_WEBHOOKS", True)
# Seconds the webhook worker gathers events between drains of the stream.
CHATBRIDGE_WEBHOOK_LINGER = env_float("CHATBRIDGE_WEBHOOK_LINGER", 0.25)
CHATBRIDGE_WEBHOOK_TIMEOUT = env_float("CHATBRIDGE_WEBHOOK_TIMEOUT", 10.0)
CHATBRIDGE_WEBHOOK_MAX_ATTEMPTS = env_int("CHATBRIDGE_WEBHOOK_MAX_ATTEMPTS", 8)
CHATBRIDGE_WEBHOOK_BACKOFF_INITIAL = env_float("CHATBRIDGE_WEBHOOK_BACKOFF_INITIAL", 5.0)
CHATBRIDGE_WEBHOOK_BACKOFF_MAX = env_float("CHATBRIDGE_WEBHOOK_BACKOFF_MAX", 3600.0)
# E-mail (transcripts sent at the customer's request, messages left for a widget's
# notification address): Django's own settings, from the environment. Development prints mails on the console; the tests use Django's locmem backend.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ChatBridge <noreply@localhost>")
# The name transcript e-mails give the business ("Your chat with <name>").
CHATBRIDGE_MAIL_SITE_NAME = env_str("CHATBRIDGE_MAIL_SITE_NAME", "ChatBridge")
# Every process sends the transcript e-mails customers ask for unless told not to.
CHATBRIDGE_RUN_MAILER = env_bool("CHATBRIDGE_RUN_MAILER", True)
# Transcript e-mails per chat per hour, and per recipient address per day.
CHATBRIDGE_TRANSCRIPT_MAILS_PER_CHAT = env_int("CHATBRIDGE_TRANSCRIPT_MAILS_PER_CHAT", 3)
CHATBRIDGE_TRANSCRIPT_MAILS_PER_ADDRESS = env_int("CHATBRIDGE_TRANSCRIPT_MAILS_PER_ADDRESS", 10)
# How often, and how patiently, the mailer looks for the archived chat before it gives up.
CHATBRIDGE_TRANSCRIPT_MAIL_ATTEMPTS = env_int("CHATBRIDGE_TRANSCRIPT_MAIL_ATTEMPTS", 10)
CHATBRIDGE_TRANSCRIPT_MAIL_BACKOFF_INITIAL = env_float(
    "CHATBRIDGE_TRANSCRIPT_MAIL_BACKOFF_INITIAL", 1.0
)
CHATBRIDGE_TRANSCRIPT_MAIL_BACKOFF_MAX = env_float("CHATBRIDGE_TRANSCRIPT_MAIL_BACKOFF_MAX", 60.0)
# Seconds a busy mailer gathers events between reads of the feed, of which it needs only the
# few e-mail requests.
CHATBRIDGE_MAIL_LINGER = env_float("CHATBRIDGE_MAIL_LINGER", 1.0)
# Networks, addresses and host names webhooks may reach although they are not public (private,
# loopback, link-local...): by default none. Delivery is https-only unless DEBUG is on.
CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = env_list("CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS")

# Messages left (POST /api/v1/widgets/<id>/messages) per hour, per client address and per
# e-mail address.
CHATBRIDGE_LEFT_MESSAGES_PER_HOUR = env_int("CHATBRIDGE_LEFT_MESSAGES_PER_HOUR", 5)


# Failed logins to /admin/ per client address and per username within a window (seconds);
# beyond them the login page answers 429 until the window ends.
CHATBRIDGE_ADMIN_LOGIN_FAILURES_PER_ADDRESS = env_int(
    "CHATBRIDGE_ADMIN_LOGIN_FAILURES_PER_ADDRESS", 20
)
CHATBRIDGE_ADMIN_LOGIN_FAILURES_PER_USERNAME = env_int(
    "CHATBRIDGE_ADMIN_LOGIN_FAILURES_PER_USERNAME", 5
)
CHATBRIDGE_ADMIN_LOGIN_WINDOW = env_int("CHATBRIDGE_ADMIN_LOGIN_WINDOW", 900)

# Operators: Prometheus metrics at /metrics (chatbridge/metrics_endpoint.py). The endpoint
# answers a scraper that sends this bearer token, or whose own address (the direct peer, never
# X-Forwarded-For) is in one of the networks; to anyone else, and to everyone when neither is
# set, it answers 404.
CHATBRIDGE_METRICS_TOKEN = env_str("CHATBRIDGE_METRICS_TOKEN")


def _networks(items: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(item, strict=False) for item in items]
    except ValueError as exc:
        raise ImproperlyConfigured(f"CHATBRIDGE_METRICS_ALLOWED_NETWORKS: {exc}") from None


CHATBRIDGE_METRICS_ALLOWED_NETWORKS = _networks(env_list("CHATBRIDGE_METRICS_ALLOWED_NETWORKS"))

# Archive viewer (the admin's transcript pages and exports).
# Chats whose last activity is older than this many days are removed by
# `manage.py purge_transcripts` (run it daily); 0 keeps transcripts forever.
CHATBRIDGE_RETENTION_DAYS = env_int("CHATBRIDGE_RETENTION_DAYS", 365)
# Show e-mail addresses, phone numbers and card numbers as [email], [phone], [card] in the
# viewer and in exports (the archive keeps the text as it was said).
CHATBRIDGE_REDACT_PII = env_bool("CHATBRIDGE_REDACT_PII", False)
