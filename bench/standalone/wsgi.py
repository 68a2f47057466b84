"""WSGI entry of the standalone baseline: `gunicorn bench.standalone.wsgi:application`.

Sets DJANGO_SETTINGS_MODULE itself (not setdefault), since run.sh exports the project's
bench settings for everything else.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.standalone.settings"
application = get_wsgi_application()
