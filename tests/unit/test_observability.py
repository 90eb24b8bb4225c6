"""Request ids, the JSON request log, and the Prometheus metrics."""

import hashlib
import io
import json
import logging
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import ConfigError, Development, Production, Testing
from interview_service.auth import current_user, issue_token
from interview_service.observability import JsonLogHandler, log_format

HEX_ID = re.compile(r"[0-9a-f]{32}")


def add_test_routes(application):
    """Routes a test app serves besides the real ones (a template, a user, a bug)."""

    @application.route("/things/<thing_id>")
    def thing(thing_id):
        return {"success": True, "user": current_user()}

    @application.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    return application


@pytest.fixture
def test_app(make_app, db_uri):
    """The app with the test routes."""
    return add_test_routes(make_app(db_uri))


class LogCapture:
    """What the app's JSON log handler writes, one parsed object per line."""

    def __init__(self):
        self.stream = io.StringIO()
        self.restore = []

    def attach(self):
        """Point the installed handler (create_app replaces it) at our buffer."""
        for handler in logging.getLogger().handlers:
            if isinstance(handler, JsonLogHandler):
                self.restore.append((handler, handler.setStream(self.stream)))

    def detach(self):
        for handler, stream in self.restore:
            handler.setStream(stream)

    def lines(self, logger=None):
        parsed = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        return [line for line in parsed if logger is None or line["logger"] == logger]


@pytest.fixture
def log_capture():
    """Capture the JSON log of the apps already built (call attach() after building one)."""
    capture = LogCapture()
    capture.attach()
    yield capture
    capture.detach()


def request_lines(capture):
    return capture.lines("interview_service.requests")


def test_request_log_line_is_json_with_route_template(test_app, log_capture):
    response = test_app.test_client().get("/things/abc123")
    [line] = request_lines(log_capture)
    assert response.status_code == 200
    assert line["method"] == "GET"
    assert line["path"] == "/things/<thing_id>"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*", line["time"])


def test_request_id_from_header_is_echoed_and_logged(test_app, log_capture):
    response = test_app.test_client().get("/healthz", headers={"X-Request-ID": "edge-42.a:b_c"})
    assert response.headers["X-Request-ID"] == "edge-42.a:b_c"
    assert request_lines(log_capture)[0]["request_id"] == "edge-42.a:b_c"
    assert response.get_json() == {"success": True}


def test_request_id_is_generated_when_absent(client):
    response = client.get("/healthz")
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])
    assert response.get_json() == {"success": True}


@pytest.mark.parametrize(
    "sent", ["has space", '{"forged":"json"}', "x" * 129, "-leading-dash", "é-unicode"]
)
def test_malformed_request_id_is_replaced(client, sent):
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])
    assert response.status_code == 200


def test_each_request_gets_its_own_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second


def test_verified_user_is_logged_as_a_hash(test_app, log_capture):
    token = issue_token("alice", test_app.config)
    response = test_app.test_client().get("/things/1", headers={"Authorization": f"Bearer {token}"})
    [line] = request_lines(log_capture)
    assert response.get_json()["user"] == "alice"
    assert line["user"] == hashlib.sha256(b"alice").hexdigest()[:16]
    assert "alice" not in json.dumps(line)


def test_anonymous_request_logs_no_user(test_app, log_capture):
    test_app.test_client().get("/things/1")
    [line] = request_lines(log_capture)
    assert "user" not in line


def test_rejected_token_logs_no_user(test_app, log_capture):
    response = test_app.test_client().get("/things/1", headers={"Authorization": "Bearer nope"})
    [line] = request_lines(log_capture)
    assert response.status_code == 401
    assert line["status"] == 401 and "user" not in line


def test_unmatched_path_is_logged_without_the_raw_path(test_app, log_capture):
    response = test_app.test_client().get("/api/no-such-thing-9f8e7d")
    [line] = request_lines(log_capture)
    assert response.status_code == 404
    assert line["path"] == "<unmatched>"


def test_unhandled_error_is_logged_as_json_with_traceback(test_app, log_capture):
    response = test_app.test_client().get("/boom")
    [error] = [line for line in log_capture.lines() if line.get("exc_info")]
    [line] = request_lines(log_capture)
    assert response.status_code == 500
    assert "Traceback" in error["exc_info"]
    assert "RuntimeError: secret internals" in error["exc_info"]
    assert error["request_id"] == response.headers["X-Request-ID"] == line["request_id"]
    assert line["status"] == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert response.get_json()["success"] is False


def test_log_level_is_honoured(make_app, db_uri, log_capture):
    application = make_app(db_uri, LOG_LEVEL="WARNING")
    log_capture.attach()
    response = application.test_client().get("/healthz")
    assert response.status_code == 200
    assert logging.getLogger().level == logging.WARNING
    assert request_lines(log_capture) == []


def test_log_handler_is_installed_once(make_app, db_uri):
    make_app(db_uri)
    make_app(db_uri)
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, JsonLogHandler)]
    assert len(handlers) == 1


def test_forwarded_for_is_ignored_without_proxy_fix(test_app, log_capture):
    test_app.test_client().get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    assert request_lines(log_capture)[0]["remote_addr"] == "127.0.0.1"


def test_forwarded_for_is_trusted_with_proxy_fix(make_app, db_uri, log_capture):
    application = make_app(db_uri, PROXY_FIX_X_FOR=1)
    log_capture.attach()
    application.test_client().get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    assert request_lines(log_capture)[0]["remote_addr"] == "203.0.113.9"


def scrape(client):
    """Current metric samples as {(name, sorted label items): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def sample(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def growth(client, name, labels, *paths):
    """How much the sample `name` with `labels` grows while `client` gets each of `paths`."""
    before = sample(scrape(client), name, **labels)
    for path in paths:
        client.get(path)
    return sample(scrape(client), name, **labels) - before


def test_metrics_count_requests_by_route_and_status(client):
    labels = {"method": "GET", "endpoint": "/healthz", "status": "200"}
    assert growth(client, "http_requests_total", labels, "/healthz", "/healthz") == 2


def test_metrics_count_errors_under_their_status(test_app):
    client = test_app.test_client()
    labels = {"method": "GET", "endpoint": "/things/<thing_id>", "status": "401"}
    before = sample(scrape(client), "http_requests_total", **labels)
    assert client.get("/things/1", headers={"Authorization": "Bearer bad"}).status_code == 401
    after = sample(scrape(client), "http_requests_total", **labels)
    assert after - before == 1


def test_metrics_observe_latency_by_route(client):
    labels = {"method": "GET", "endpoint": "/readyz"}
    assert growth(client, "http_request_duration_seconds_count", labels, "/readyz") == 1


def test_metrics_use_the_route_template_not_the_path(test_app):
    client = test_app.test_client()
    labels = {"method": "GET", "endpoint": "/things/<thing_id>", "status": "200"}
    before = sample(scrape(client), "http_requests_total", **labels)
    client.get("/things/one")
    client.get("/things/two")
    samples = scrape(client)
    assert sample(samples, "http_requests_total", **labels) - before == 2
    assert not any("/things/one" in str(key) for key in samples)


def test_metrics_count_database_outages(unreachable_app):
    client = unreachable_app().test_client()
    before = sample(scrape(client), "database_unavailable_total")
    response = client.get("/readyz")
    after = sample(scrape(client), "database_unavailable_total")
    assert response.status_code == 503
    assert after - before == 1


def test_metrics_content_type_is_prometheus_text(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE http_requests_total counter" in response.data


def test_metrics_disabled_answers_404(make_app, db_uri):
    application = make_app(db_uri, METRICS_ENABLED=False)
    response = application.test_client().get("/metrics")
    assert response.status_code == 404
    assert response.get_json()["success"] is False


# --- LOG_FORMAT ---------------------------------------------------------------------------


def test_request_log_line_of_a_4xx_says_why(test_app, log_capture):
    test_app.test_client().post("/api/sessions", json={"bogus": 1})
    test_app.test_client().get("/api/performance-stats")
    validation, unauthorized = request_lines(log_capture)
    assert validation["status"] == 422
    assert validation["error"] == "Validation failed (bogus, config)"
    assert unauthorized["error"] == "Missing bearer token"


def test_request_log_line_of_a_2xx_has_no_error(test_app, log_capture):
    test_app.test_client().get("/healthz")
    [line] = request_lines(log_capture)
    assert "error" not in line


def test_json_log_lines_carry_no_terminal_colour_codes(test_app, log_capture):
    logging.getLogger("some.library").warning("\x1b[31mred\x1b[0m and \x1b[1;32mbold green\x1b[0m")
    [line] = log_capture.lines("some.library")
    assert line["message"] == "red and bold green"


def test_text_log_format_writes_readable_lines(make_app, db_uri):
    application = make_app(db_uri, LOG_FORMAT="text")
    capture = LogCapture()
    capture.attach()
    try:
        application.test_client().get("/api/performance-stats")
    finally:
        capture.detach()
    [line] = [line for line in capture.stream.getvalue().splitlines() if "requests" in line]
    assert not line.startswith("{")
    assert "INFO    interview_service.requests: GET /api/performance-stats 401" in line
    assert "error=Missing bearer token" in line


@pytest.mark.parametrize("terminal, expected", [(True, "text"), (False, "json")])
def test_auto_log_format_is_text_only_on_a_terminal(monkeypatch, terminal, expected):
    monkeypatch.setattr("sys.stderr.isatty", lambda: terminal, raising=False)
    assert log_format("auto") == expected


def test_log_format_defaults_to_auto_in_development_and_json_elsewhere():
    assert Development.LOG_FORMAT == "auto"
    assert Production.LOG_FORMAT == "json" and Testing.LOG_FORMAT == "json"


def test_unknown_log_format_is_refused(make_app):
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        make_app("mongomock://localhost/x", LOG_FORMAT="yaml")
