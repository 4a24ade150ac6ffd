"""Django settings, all read from the environment (and `.env` at the repository root).

Every variable is documented with its safe default in `.env.example`. A bad value stops
the process at start with a message naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import os
import sys
from pathlib import Path

import dj_database_url
from dotenv import load_dotenv

from aristobot.env import SettingError, envbool, envdecimal, envint, envlist, envstr, secrets_load_or_create

BACKEND_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BACKEND_DIR.parent
load_dotenv(REPO_DIR / ".env", override=False)

VAR_DIR = Path(envstr("ARISTOBOT_VAR_DIR", str(REPO_DIR / "var")))

# Secrets not set in the environment or .env are generated once for this installation and
# kept in var/secrets.env (0600), so that every command works on a fresh checkout. Production
# should set both explicitly (and back them up: the encryption key unlocks exchange keys).
if not (os.environ.get("DJANGO_SECRET_KEY") and os.environ.get("ARISTOBOT_ENCRYPTION_KEY")):
    _generated, _created = secrets_load_or_create(VAR_DIR / "secrets.env")
    for _name, _value in _generated.items():
        if not os.environ.get(_name):
            os.environ[_name] = _value
    if _created:
        sys.stderr.write(f"Aristobot: generated {', '.join(_created)} in {VAR_DIR / 'secrets.env'} (mode 0600)\n")

DEBUG = envbool("DEBUG", False)
SECRET_KEY = envstr("DJANGO_SECRET_KEY", "")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

# --- Production (behind the TLS proxy) ------------------------------------------------------
# With DEBUG off: cookies only over HTTPS, HSTS, and the proxy's X-Forwarded-Proto believed
# (the web process must be reachable only through the proxy, as in docker-compose.yml).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_PROXY_SSL_HEADER = None if DEBUG else ("HTTP_X_FORWARDED_PROTO", "https")
# Processes `manage.py status`, /health/ and /health require alive.
HEALTH_REQUIRED_PROCESSES = envlist("HEALTH_REQUIRED_PROCESSES", "web,receiver,engine,gateway,heartbeat")
# --- end of production settings --------------------------------------------------------------


def _database(url: str) -> dict[str, object]:
    try:
        config = dj_database_url.parse(url, conn_max_age=600)
    except Exception as exc:  # dj_database_url raises several kinds
        raise SettingError("DATABASE_URL", f"is not a database URL: {exc}") from None
    if config.get("ENGINE") == "django.db.backends.sqlite3":
        # WAL and NORMAL sync: many small commits per alert, one writer per process.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    return dict(config)


DATABASES = {"default": _database(envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'aristobot.sqlite3'}"))}
# The alerts' covering index INCLUDEs columns for PostgreSQL's index-only scans; SQLite
# builds it without them, which is fine there: no warning on every command.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise SettingError("REDIS_URL", f"must start with redis://, rediss:// or unix://, got {REDIS_URL!r}")


def _encryption_keys(raw: str) -> list[bytes]:
    keys = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            decoded = base64.urlsafe_b64decode(item.encode())
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            raise SettingError(
                "ARISTOBOT_ENCRYPTION_KEY",
                "must be one or more comma-separated Fernet keys (32 url-safe base64 bytes); "
                "generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`",
            )
        keys.append(item.encode())
    return keys


# The first key encrypts; every key decrypts, so a new key can be put first and old
# credentials re-encrypted with `manage.py rotate_encryption_key`.
ENCRYPTION_KEYS = _encryption_keys(envstr("ARISTOBOT_ENCRYPTION_KEY", ""))

WEBHOOK_TOKEN = envstr("WEBHOOK_TOKEN", "")
WEBHOOK_PUBLIC_URL = envstr("WEBHOOK_PUBLIC_URL", "http://localhost:8888")
WEBHOOK_MAX_BODY_BYTES = envint("WEBHOOK_MAX_BODY_BYTES", 65536, minimum=1024)
WEBHOOK_RATE_LIMIT_PER_MINUTE = envint("WEBHOOK_RATE_LIMIT_PER_MINUTE", 600, minimum=0)
WEBHOOK_IP_ALLOWLIST = envlist("WEBHOOK_IP_ALLOWLIST", "")
WEBHOOK_TRUSTED_PROXIES = envlist("WEBHOOK_TRUSTED_PROXIES", "")
WEBHOOK_IDLE_TIMEOUT_SECONDS = envint("WEBHOOK_IDLE_TIMEOUT_SECONDS", 15, minimum=1)
WEBHOOK_BODY_TIMEOUT_SECONDS = envint("WEBHOOK_BODY_TIMEOUT_SECONDS", 2, minimum=1)
WEBHOOK_MAX_CONNECTIONS = envint("WEBHOOK_MAX_CONNECTIONS", 512, minimum=16)
ALERT_DEDUP_WINDOW_SECONDS = envint("ALERT_DEDUP_WINDOW_SECONDS", 60, minimum=0)
ALERT_MAX_DELIVERIES = envint("ALERT_MAX_DELIVERIES", 5, minimum=1)
GATEWAY_TIMEOUT_SECONDS = envint("GATEWAY_TIMEOUT_SECONDS", 15, minimum=1)
ENGINE_THREADS = envint("ENGINE_THREADS", 4, minimum=1)
EXCHANGE_TIMEOUT_SECONDS = envint("EXCHANGE_TIMEOUT_SECONDS", 10, minimum=1)
# Where a broker's api_base_url may point besides the exchange's own addresses (trading/live/base_url.py).
EXCHANGE_BASE_URL_ALLOWLIST = envlist("EXCHANGE_BASE_URL_ALLOWLIST", "")
try:
    from trading.live.base_url import allowlist_parse

    allowlist_parse(EXCHANGE_BASE_URL_ALLOWLIST)
except ValueError as _exc:
    raise SettingError("EXCHANGE_BASE_URL_ALLOWLIST", f"has an entry that {_exc}") from None
PAPER_INITIAL_BALANCE_USDT = envdecimal("PAPER_INITIAL_BALANCE_USDT", "10000")
PAPER_FEE_RATE = envdecimal("PAPER_FEE_RATE", "0.001")
HEARTBEAT_SOURCE = envstr("HEARTBEAT_SOURCE", "sim")
if HEARTBEAT_SOURCE not in ("sim", "replay", "ccxt"):
    raise SettingError("HEARTBEAT_SOURCE", f"must be sim, replay or ccxt, got {HEARTBEAT_SOURCE!r}")
HEARTBEAT_SECONDS_PER_CANDLE = float(envdecimal("HEARTBEAT_SECONDS_PER_CANDLE", "60"))
if HEARTBEAT_SECONDS_PER_CANDLE < 0:
    raise SettingError("HEARTBEAT_SECONDS_PER_CANDLE", "must be 0 or more")
HEARTBEAT_SYMBOLS = envlist("HEARTBEAT_SYMBOLS", "BTC/USDT,ETH/USDT")
HEARTBEAT_EXCHANGE = envstr("HEARTBEAT_EXCHANGE", "binance")
HEARTBEAT_STALE_SECONDS = envint("HEARTBEAT_STALE_SECONDS", 180, minimum=1)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "channels",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served locally: no CDN
    "apps.core",
    "apps.brokers",
    "apps.webhooks",
    "axes",  # sign-in throttling (django-axes): see AXES_* below
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.staticfiles.StaticFilesMiddleware",  # WhiteNoise: static files and the built app
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into a 429
]

# --- Sign-in throttling (django-axes), for the API sign-in and /admin/login/ alike ------------
# Failures are counted per client address (across usernames; an IPv6 address as its /64): one
# address that guesses is stopped after AXES_FAILURE_LIMIT within the cool-off, while the real user
# signs in from theirs (a plain per-username lock would let anyone lock a user out: the per-username
# limit below spares addresses the user signed in from). Failures are kept in the database
# (visible and resettable in the admin, `manage.py axes_reset`), so they hold whatever Redis does.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = 0.25  # hours: 15 minutes
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = False  # else one good sign-in (any account) would let an address guess again
AXES_CLIENT_IP_CALLABLE = "apps.core.api.auth.client_ip"  # X-Forwarded-For only from WEBHOOK_TRUSTED_PROXIES
AXES_LOCKOUT_CALLABLE = "apps.core.api.auth.lockout_response"
# Per username too (apps.core.api.auth.SignInThrottle, docs/deployment.md): this many wrong passwords
# for one username within the cool-off, from any addresses, refuse it from every address that has
# never signed in as it; the user's own addresses still can. 0 turns it off.
AXES_HANDLER = "apps.core.api.auth.SignInThrottle"
SIGN_IN_USERNAME_FAILURE_LIMIT = 30
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password"]

ROOT_URLCONF = "aristobot.urls"
ASGI_APPLICATION = "aristobot.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels_redis waits up to 5 s on each blocking read; redis-py 8's default socket
        # timeout is 5 s too, which closed idle sockets: give the socket more than the wait.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
    }
}

# Shared by every process (sign-in failure counts): Redis, like everything else between them.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.StandardPagination",  # 20 rows, up to 100
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exceptions.api_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Aristobot API",
    "DESCRIPTION": "Alerts, positions, orders, brokers and webhook tokens of the signed-in user.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "WebhookStatusEnum": "apps.webhooks.models.WebhookStatus",
        "PositionStatusEnum": "apps.webhooks.models.PositionStatus",
        "OrderStatusEnum": "trading.orders.OrderStatus",
    },
}

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# The built dashboard (`npm run build` in frontend/): its assets are /static/app/…, its
# index.html is answered for every dashboard route (aristobot/spa.py).
FRONTEND_DIST_DIR = REPO_DIR / "frontend" / "dist"
STATICFILES_DIRS = [("app", FRONTEND_DIST_DIR)] if FRONTEND_DIST_DIR.is_dir() else []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# WhiteNoise serves what collectstatic gathered into STATIC_ROOT (the Docker image does it at
# build), compressed (apps/core/staticfiles.py).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOG_LEVEL = envstr("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
    raise SettingError("LOG_LEVEL", f"must be DEBUG, INFO, WARNING or ERROR, got {LOG_LEVEL!r}")
# plain: readable lines (`make run` prefixes each with the process); json: one object per line
# with process and trace_id (docker-compose). Secrets are masked in both (apps/core/logformat.py).
LOG_FORMAT = envstr("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise SettingError("LOG_FORMAT", f"must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "apps.core.logformat.LogContextFilter"},
        "redact": {"()": "apps.core.logformat.SecretRedactor"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "apps.core.logformat.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context", "redact"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # axes: its start banner and each failure at INFO stay out; lockouts (WARNING) are logged.
    "loggers": {"ccxt": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
