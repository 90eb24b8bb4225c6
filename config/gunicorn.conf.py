"""gunicorn settings; every value can be overridden from the environment."""

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads a slow client can hold are the ones others wait for (see body_timeout).
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
# A request running longer than this kills its worker (database calls give up after 5 s).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM, workers finish the requests in flight for up to this long, then are killed.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# Longer than nginx's upstream keepalive_timeout (4 s), so nginx closes idle connections first.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Seconds a request body may take to arrive once its head has (see pre_request). Behind nginx a
# body always arrives at once: nginx buffers it whole before passing it on. Served directly, a
# client dribbling its body would otherwise hold one of the worker's threads for as long as it
# likes, and a few dozen such clients would hold them all: with this bound, N of them delay
# other requests by at most about N / (workers x threads) x body_timeout.
body_timeout = float(os.environ.get("GUNICORN_BODY_TIMEOUT", "1"))
# The longest request line gunicorn allows (as nginx's default 8k buffer): a long query string
# reaches the app and gets its JSON 422 instead of gunicorn's HTML 414.
limit_request_line = 8190
# Recycling workers is off by default: each recycled worker leaves its metric files behind
# (Prometheus multiprocess mode), which /metrics reads on every scrape. Set it to contain a leak.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# The heartbeat file on tmpfs: a container's overlay filesystem can stall it.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The app is imported in each worker after the fork, so each worker opens its own MongoClient
# (and rate-limit client) on its first request: pymongo clients are not fork-safe.
preload_app = False
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# The app writes one JSON line per request; gunicorn's access log would duplicate it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's own lines (boot, worker exits, timeouts) as JSON too, like the app's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING", "handlers": []},  # each worker's app installs its handler
    "loggers": {
        "gunicorn.error": {
            "level": loglevel.upper(),
            "handlers": ["json"],
            "propagate": False,
            "qualname": "gunicorn.error",
        },
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
    "handlers": {
        "json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{levelname}{name}{message}{process}",
            "style": "{",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        }
    },
}

# Prometheus multiprocess mode: each worker writes its metrics to files in this directory and
# /metrics adds them up, so a scrape sees every worker whichever one answers it.
_created_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _created_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="interview-service-metrics-")


class DeadlineSocket:
    """A connection's socket whose reads fail once the current request's body deadline passes."""

    def __init__(self, sock):
        self.sock = sock
        self.deadline = None
        self.expired = False

    def recv(self, size, *flags):
        """Read as the socket does, within what is left of the deadline (TimeoutError after)."""
        if self.deadline is None:
            return self.sock.recv(size, *flags)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.expired = True
            raise TimeoutError("request body not received in time")
        timeout = self.sock.gettimeout()
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv(size, *flags)
        except TimeoutError:
            self.expired = True
            raise
        finally:
            self.sock.settimeout(timeout)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def pre_request(worker, req):
    """Give this request's body `body_timeout` seconds: reading it then fails, the app answers
    408 and gunicorn closes the connection, so the thread is free again."""
    worker.log.debug("%s %s", req.method, req.path)
    unreader = getattr(req, "unreader", None)
    if unreader is None or not hasattr(unreader, "sock"):
        return  # HTTP/2 streams read their bodies through the connection, not a socket
    if not isinstance(unreader.sock, DeadlineSocket):
        unreader.sock = DeadlineSocket(unreader.sock)
    unreader.sock.deadline = time.monotonic() + body_timeout


def post_request(worker, req, environ, resp):
    """The deadline ends with its request: the next one on a kept-alive connection starts afresh
    (gunicorn bounds draining an unread body itself)."""
    sock = getattr(getattr(req, "unreader", None), "sock", None)
    if not isinstance(sock, DeadlineSocket):
        return
    sock.deadline = None
    if sock.expired:
        # The answer is sent. gunicorn's graceful close would now read the dribbling client
        # for up to 2 s on the worker's main thread, delaying every other connection: stop
        # reading it here, so the close is immediate.
        try:
            sock.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass


def on_starting(server):
    """Start from empty metric files: values left by an earlier run would be added in."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker is gone (exit, timeout, max_requests): drop its live-gauge files."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory when gunicorn made it."""
    if _created_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
