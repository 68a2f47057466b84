"""gunicorn's configuration for this service (gunicorn reads ./gunicorn.conf.py from the
directory it starts in; `gunicorn -c gunicorn.conf.py` elsewhere). docs/operations.md
and `make bench` use it. Every value can be changed by environment variable:

- GUNICORN_BIND (127.0.0.1:8000): where to listen; 0.0.0.0:8000 behind a load balancer.
- WEB_CONCURRENCY (2 per CPU): sync worker processes. A request is mostly Python and
  waiting on PostgreSQL, so two per core keeps both busy (make bench runs 4 on 2 cores).
- GUNICORN_TIMEOUT (30 s): a worker silent for longer is killed and replaced (a stuck
  request); GUNICORN_GRACEFUL_TIMEOUT (30 s): on SIGTERM or a reload, how long workers
  may finish their requests before they are killed (deploys drain, nothing is cut).
- GUNICORN_KEEPALIVE (5 s): behind a load balancer, longer than its idle timeout is wrong;
  shorter is fine.
- Access log on stdout (GUNICORN_ACCESS_LOG: a file, or empty for none), one line per
  request with its worker's pid and X-Request-ID (the same id as in the log lines,
  trophy_site/request_id.py); JSON when LOG_FORMAT=json.
- No control socket: several instances on one machine would share its default path.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
backlog = 2048
control_socket_disable = True

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: none (make bench)
errorlog = "-"
if os.environ.get("LOG_FORMAT") == "json":
    access_log_format = (
        '{"time": "%(t)s", "logger": "gunicorn.access", "remote": "%(h)s", '
        '"request": "%(r)s", "status": %(s)s, "bytes": "%(b)s", "ms": %(M)s, '
        '"worker": "%(p)s", "request_id": "%({x-request-id}o)s"}'
    )
else:  # the worker's pid, so a slow or failing worker can be told apart
    access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms %(p)s [%({x-request-id}o)s]'
