"""The one settings module. Every value that differs between machines comes from an
environment variable; a missing or malformed required value stops start-up with a message
that names it (ImproperlyConfigured), never a half-configured server.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"Environment variable {name} is required but not set.")
        return default
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)."
    )


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"Environment variable {name}={raw!r} is not an integer."
        ) from None


def env_rate(name: str) -> str:
    """A DRF throttle rate ("5/s", "300/m", "10000/d"), or "" for none."""
    raw = os.environ.get(name, "").strip()
    count, _, period = raw.partition("/")
    if raw and not (count.isdigit() and period[:1] in {"s", "m", "h", "d"}):
        raise ImproperlyConfigured(
            f"Environment variable {name}={raw!r} is not a rate such as 5/s, 300/m or 10000/d."
        )
    return raw


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def prepared_statement_options() -> dict[str, object]:
    """psycopg options for PostgreSQL. By default parameters are bound on the server and a
    statement run 5 times on a connection is prepared there, so PostgreSQL parses and
    plans it once per connection instead of on every execution (about half the
    database's work per event: docs/benchmarks.md). DATABASE_PREPARED_STATEMENTS=0 goes
    back to Django's default, client-side binding, for a pooler that cannot keep
    prepared statements (PgBouncer in transaction mode before 1.21, or without
    max_prepared_statements)."""
    if env_bool("DATABASE_PREPARED_STATEMENTS", default=True):
        return {"server_side_binding": True, "prepare_threshold": 5}
    return {}


def database_from_url(url: str) -> dict[str, object]:
    """Translate DATABASE_URL (postgres://, postgresql://, sqlite:///path) to Django's dict."""
    parsed = urlparse(url)
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        if not parsed.path or parsed.path == "/":
            raise ImproperlyConfigured(f"DATABASE_URL={url!r} names no database.")
        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60),
            # A health check costs a round trip (SELECT 1) at the start of every request
            # that reuses a connection; on by default so a restarted database does not
            # fail the first request of each process.
            "CONN_HEALTH_CHECKS": env_bool("DATABASE_CONN_HEALTH_CHECKS", default=True),
            "OPTIONS": {**options, **prepared_statement_options()},
        }
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = url[len("sqlite:///") :]
        if not path:
            raise ImproperlyConfigured(f"DATABASE_URL={url!r} names no SQLite file.")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path if path == ":memory:" else str(BASE_DIR / path),
            # IMMEDIATE transactions take the write lock up front, so two writers queue on
            # the busy timeout instead of failing with "database is locked" on upgrade.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL={url!r} is not supported: use postgres://user:pass@host:port/name "
        "or sqlite:///var/db.sqlite3."
    )


DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY", "insecure-dev-key-only-for-debug" if DEBUG else None)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

DATABASES = {"default": database_from_url(env_str("DATABASE_URL", "sqlite:///var/db.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "axes",
    "events",
    "wrapped",
]

MIDDLEWARE = [
    "trophy_site.request_id.RequestIdMiddleware",
    "trophy_site.health.HealthMiddleware",  # /healthz, /readyz: before the Host check
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out login (django-axes)
    # last, so it sees a view's exception first: a retryable database error is a 503
    "trophy_site.database_errors.DatabaseUnavailableMiddleware",
]

# The Django admin: its path (ADMIN_URL, "admin/" by default: a less obvious one keeps
# scanners off), and its login protected against password guessing by django-axes:
# after ADMIN_LOGIN_FAILURE_LIMIT failures for one username from one address, that pair
# is locked out for ADMIN_LOGIN_COOLOFF_MINUTES (a success resets the count).
# `python manage.py axes_reset` lifts every lockout (docs/operations.md).
ADMIN_URL = env_str("ADMIN_URL", "admin/")
if not re.fullmatch(r"([A-Za-z0-9_-]+/)+", ADMIN_URL):
    raise ImproperlyConfigured(
        f"Environment variable ADMIN_URL={ADMIN_URL!r} is not a path such as admin/ or ops/admin/."
    )
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind a reverse proxy: the header it sets to the client's address (trophy_site/client_ip.py).
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER", "")
AXES_CLIENT_IP_CALLABLE = "trophy_site.client_ip.client_ip"

ROOT_URLCONF = "trophy_site.urls"
WSGI_APPLICATION = "trophy_site.wsgi.application"

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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# Rendered share cards go to the "cards" storage: files under MEDIA_ROOT/cards by default;
# any Django storage (an S3-compatible one, say) in production. Names are content hashes,
# so a file is written whole and overwriting it with the same bytes is harmless.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "cards": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "cards", "allow_overwrite": True},
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["events.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["events.api.auth.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["events.api.parsers.ExactJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "events.api.parsers.JSONOnlyNegotiation",
    "EXCEPTION_HANDLER": "events.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["events.api.throttling.OrganizationRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Trophy-compatible gamification API",
    "DESCRIPTION": "Wire-compatible with Trophy's Application and Admin APIs, plus Wrapped.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public (Trophy publishes its own); API-key authentication
    # would answer 401 to a browser opening /api/docs/.
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # events/api/converters.py: ids in paths are strings
    "PATH_CONVERTER_OVERRIDES": {"id": str},
    # The API key's security scheme: events.api.openapi.ApiKeyAuthenticationScheme.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "events.api.openapi.add_trophy_components",
    ],
}

# Celery: with no broker configured, tasks run eagerly in the calling process, so the
# embedded default (make run) needs no other service.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == ""
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
# A task is acknowledged when it has finished, so a worker that dies mid-task leaves it
# to another: when only a pool process died (killed by the OOM killer, say), the task is
# retried (after its default_retry_delay, within its max_retries: a task that kills its
# process every time ends failed) or, if the retry cannot be sent, requeued; when the
# whole worker died, after the visibility timeout (Redis broker; RabbitMQ redelivers when
# the worker's connection drops). Every task is safe to run twice (docs/operations.md,
# "Faults").
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_RETRY_ON_WORKER_LOST = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540)
# Longer than any task may run (its time limit, plus the longest retry countdown, 64 s),
# or a running task would be handed to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 300),
    # look for such tasks every 10 s (kombu's default scans every 10th look: 100 s)
    "unacked_restore_throttle": 1,
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# Wrapped: users per precompute task, and how many stale summaries one periodic run
# enqueues per tenant and year (docs/operations.md).
WRAPPED_CHUNK_SIZE = env_int("WRAPPED_CHUNK_SIZE", 500)
WRAPPED_REFRESH_LIMIT = env_int("WRAPPED_REFRESH_LIMIT", 20000)
# Where share links point (https://wrapped.example.com): the links the API returns and
# the host printed on cards. Empty: the host of the request that made the link.
SHARE_BASE_URL = env_str("SHARE_BASE_URL", "").rstrip("/")

# Optional per-organization rate limits (events/api/throttling.py): a DRF rate such as
# "5/s" (Trophy's tier 1) or "50/s" (tier 2); empty means no limit.
RATE_LIMIT_WRITES = env_rate("RATE_LIMIT_WRITES")
RATE_LIMIT_READS = env_rate("RATE_LIMIT_READS")

CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
elif CACHE_URL:
    raise ImproperlyConfigured(
        f"Environment variable CACHE_URL={CACHE_URL!r} is not supported: use redis://host:6379/1."
    )
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# How often an API key's last_used column may be written: at most once per interval, so
# a key used 1,000 times a second does not turn every read into a write.
API_KEY_LAST_USED_RESOLUTION_SECONDS = env_int("API_KEY_LAST_USED_RESOLUTION_SECONDS", 60)

# One line per record, with the request's id (trophy_site/request_id.py); JSON objects
# when LOG_FORMAT=json.
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"Environment variable LOG_FORMAT={LOG_FORMAT!r}: use text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "trophy_site.request_id.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "trophy_site.request_id.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes.apps": {"level": "WARNING"},  # its start-up banner, in every process
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=True)

# HTTPS (docs/operations.md, "HTTPS"). Off by default, as the service may be reached over
# plain HTTP (make run, a private network); a deployment behind TLS sets them.
# SECURE_PROXY_SSL_HEADER names the header a TLS-terminating proxy sets to "https"
# (X-Forwarded-Proto): set it only behind a proxy that always sets or strips it.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
_proxy_header = env_str("SECURE_PROXY_SSL_HEADER", "")
if _proxy_header:
    if not re.fullmatch(r"[A-Za-z0-9-]+", _proxy_header):
        raise ImproperlyConfigured(
            f"Environment variable SECURE_PROXY_SSL_HEADER={_proxy_header!r} is not a header "
            "name such as X-Forwarded-Proto."
        )
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
