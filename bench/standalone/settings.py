"""Settings of the standalone baseline: only what a DRF view on PostgreSQL needs.

No middleware, no authentication, no sessions, no throttling, DEBUG off. The database
comes from DATABASE_URL (postgres://user:pass@host:port/name, as for the project) with the
project's connection settings, read from the same variables with the same defaults:
persistent connections (DATABASE_CONN_MAX_AGE, 60 s) with health checks
(DATABASE_CONN_HEALTH_CHECKS, on) and psycopg's server-side binding with statements
prepared after 5 runs (DATABASE_PREPARED_STATEMENTS, on). Kept in step with
trophy_site/settings.py by hand: this module must not import it.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


def _on(name: str) -> bool:
    return os.environ.get(name, "1").strip().lower() not in {"0", "false", "no", "off"}


_url = urlparse(os.environ.get("DATABASE_URL", ""))
if _url.scheme not in {"postgres", "postgresql"} or not _url.path.strip("/"):
    raise ImproperlyConfigured("bench/standalone needs DATABASE_URL=postgres://user@host:port/name")

DEBUG = False
SECRET_KEY = os.environ.get("SECRET_KEY") or "standalone-bench-not-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = ["rest_framework", "bench.standalone"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.standalone.urls"
WSGI_APPLICATION = "bench.standalone.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(_url.path.lstrip("/")),
        "USER": unquote(_url.username or ""),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": _url.hostname or "",
        "PORT": str(_url.port or ""),
        "CONN_MAX_AGE": int(os.environ.get("DATABASE_CONN_MAX_AGE") or 60),
        "CONN_HEALTH_CHECKS": _on("DATABASE_CONN_HEALTH_CHECKS"),
        "OPTIONS": (
            {"server_side_binding": True, "prepare_threshold": 5}
            if _on("DATABASE_PREPARED_STATEMENTS")
            else {}
        ),
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
