"""Request ids, one JSON log line per request, and Prometheus metrics (multi-worker safe)."""

import hashlib
import logging
import os
import re
import sys
import time
import uuid

from flask import Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a client or proxy as a request id (nginx's $request_id is 32 hex digits);
# anything else is replaced, so a log line can never be forged through this header.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
UNMATCHED = "<unmatched>"  # the path label of a request no route matched (bounded cardinality)

request_log = logging.getLogger("interview_service.requests")
# At DEBUG these log whole payloads (transcripts, prompts, model answers): they never log
# below WARNING, whatever LOG_LEVEL says.
PAYLOAD_LOGGERS = ("pymongo.command", "openai", "httpx", "httpx2", "httpcore", "httpcore2")

# Metrics are module-level: prometheus-client registers each name once per process. Under
# gunicorn PROMETHEUS_MULTIPROC_DIR is set (config/gunicorn.conf.py), so every worker writes
# its values to files there and /metrics adds them up across workers.
REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status",
    ["method", "endpoint", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DATABASE_UNAVAILABLE = Counter(
    "database_unavailable_total",
    "Requests answered 503 because the database could not be reached in time",
)


def user_hash(user_id):
    """A short stable pseudonym of a user id (sha256 prefix), for logs and rate-limit keys."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def route_template(req):
    """The matched URL rule (`/api/sessions/<session_id>`), never the raw path."""
    return req.url_rule.rule if req.url_rule is not None else UNMATCHED


class RequestContextFilter(logging.Filter):
    """Adds the request id to every record logged while a request is being served."""

    def filter(self, record):
        if has_request_context() and "request_id" in g and not hasattr(record, "request_id"):
            record.request_id = g.request_id
        return True


def json_formatter():
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, extras."""
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


class JsonLogHandler(logging.StreamHandler):
    """The app's stderr handler; marked by its class so create_app never adds it twice."""


def init_logging(app):
    """Log JSON lines to stderr at LOG_LEVEL (the root logger, so libraries' records too)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, JsonLogHandler)]:
        root.removeHandler(handler)
    handler = JsonLogHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestContextFilter())
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"].upper())
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def init_app(app):
    """Give each request an id, then log and measure it once it is answered."""
    metrics_enabled = app.config["METRICS_ENABLED"]

    @app.before_request
    def start_request():
        g.request_started = time.perf_counter()
        g.request_id = incoming_request_id() or uuid.uuid4().hex

    @app.after_request
    def finish_request(response):
        # A before_request hook that failed before ours ran leaves no start: measure from here.
        started = g.pop("request_started", None) or time.perf_counter()
        request_id = g.get("request_id") or incoming_request_id() or uuid.uuid4().hex
        duration = time.perf_counter() - started
        endpoint = route_template(request)
        response.headers[REQUEST_ID_HEADER] = request_id
        fields = {
            "method": request.method,
            "path": endpoint,
            "status": response.status_code,
            "duration_ms": round(duration * 1000, 2),
            "request_id": request_id,
            "remote_addr": request.remote_addr,
        }
        # g.user_id is set only once a token has verified: an unverified claim is never logged.
        if g.get("user_id"):
            fields["user"] = user_hash(g.user_id)
        request_log.info("%s %s %s", request.method, endpoint, response.status_code, extra=fields)
        if metrics_enabled:
            REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
            LATENCY.labels(request.method, endpoint).observe(duration)
        return response


def incoming_request_id():
    """The X-Request-ID sent by nginx or the client, when it looks like an id."""
    value = request.headers.get(REQUEST_ID_HEADER, "")
    return value if REQUEST_ID_PATTERN.fullmatch(value) else None


def record_database_unavailable():
    """Count one answer of 503 for an unreachable database."""
    DATABASE_UNAVAILABLE.inc()


def metrics_response():
    """The Prometheus text exposition, summed over every gunicorn worker when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
