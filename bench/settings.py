"""Settings for `make bench`: the project's settings plus the baseline app (the
standalone one, bench/standalone) at `/bench/baseline`.

The Trophy-compatible endpoint and the in-project baseline are then served by the same
gunicorn processes, with the same middleware, database and connection settings; the
same view also runs with its own minimal settings (the standalone baseline).
"""

from trophy_site.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.standalone"]  # noqa: F405
ROOT_URLCONF = "bench.urls"
