"""Settings for `make bench`: the project's settings plus the baseline app and its URL.

Both the Trophy-compatible endpoint and the baseline view are then served by the same
gunicorn processes, with the same middleware, database and connection settings.
"""

from trophy_site.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.baseline"]  # noqa: F405
ROOT_URLCONF = "bench.urls"
