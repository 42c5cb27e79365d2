"""gunicorn's configuration for production: ``gunicorn -c deploy/gunicorn.conf.py``.

Made to run behind the nginx configuration beside it (deploy/nginx.conf), which reads whole
request bodies before it passes a request on and reads whole answers before it sends them out
(buffering), so a slow or stalled client holds an nginx connection, never one of these workers.
Without such a proxy in front, two clients that send headers and stall keep two sync workers
waiting for their bodies until ``timeout`` (SPEC §16): do not expose these workers directly.

Anything here can be overridden on the command line (``-b``, ``-w``, ``--timeout``...), which
wins over this file; ``GUNICORN_CMD_ARGS`` too. The app reads its own settings from the
``BOOKING_*`` environment variables (README, Configuration); behind nginx set
``BOOKING_TRUSTED_PROXIES=1``.
"""

import multiprocessing
import os

# The app: the factory of the installed package, so no file of the checkout is needed.
wsgi_app = "booking:create_app()"

# Loopback only: nginx on the same machine is the only client. A unix socket works too:
# ``-b unix:/run/booking/gunicorn.sock`` (and the same path in nginx.conf's upstream).
bind = ["127.0.0.1:8000"]
backlog = 256

# Sync workers: each handles one request at a time, which is what this app is written for (one
# database transaction per request, CPU-bound rendering of feeds and pages). nginx's buffering
# is what makes sync workers safe against slow clients. 2 per core plus one, the usual figure
# for such workers; WEB_CONCURRENCY (gunicorn's own variable) overrides it.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))

# A worker silent for this long (stuck, or a request far beyond any measured time: a cold
# render of the biggest feed takes about 2.5 s) is killed and replaced. nginx waits longer
# (proxy_read_timeout 60s): when gunicorn ends such a worker, the client gets nginx's 502 at once.
timeout = 30
# On SIGTERM or a reload, requests in flight get this long to finish.
graceful_timeout = 20
# Sync workers close the connection after each answer; this only matters to other classes.
keepalive = 2

# Replace each worker after this many requests (bounded memory whatever leaks), spread out so
# the workers do not restart together.
max_requests = 5000
max_requests_jitter = 500

# The heartbeat file in memory, not on a disk that may stall (a container's overlay).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Which addresses may set X-Forwarded-Proto (and so https in the app's URLs): nginx on the same
# machine. Connections on a unix socket are always trusted by gunicorn.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Request limits in front of the app's own (BOOKING_MAX_CONTENT_LENGTH for bodies).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# Errors to standard error (systemd's journal or the container's log collects them). No access
# log here: nginx keeps it, with the secret tokens of some paths (private feeds, mail links)
# left out, and the client's real address.
accesslog = None
errorlog = "-"
loglevel = "info"
proc_name = "booking"
