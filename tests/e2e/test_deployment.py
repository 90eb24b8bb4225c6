"""The deployment itself: request ids, CORS, body limits, gzip, probes, metrics and limits
through nginx and several gunicorn workers."""

import http.client
import json
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from scripts.devserver import free_port
from tests.e2e.conftest import SPA_ORIGIN, nginx_arguments, render_nginx

pytestmark = pytest.mark.e2e

ERROR_KEYS = {"success", "code", "status", "type", "message", "error"}


def wait_for(predicate, timeout=5):
    """The app logs right before answering; give the log file a moment to show it."""
    deadline = time.monotonic() + timeout
    while not (found := predicate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def app_lines_with(stack, request_id):
    return wait_for(lambda: [x for x in stack.app_log_lines() if x.get("request_id") == request_id])


def test_client_request_id_is_echoed_and_logged_by_app_and_nginx(stack):
    request_id = f"e2e-{uuid.uuid4().hex}"
    response = requests.get(f"{stack.url}/healthz", headers={"X-Request-ID": request_id})
    [line] = app_lines_with(stack, request_id)
    access = wait_for(
        lambda: [x for x in stack.nginx_access_lines() if x["request_id"] == request_id]
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == request_id
    assert line["path"] == "/healthz" and line["status"] == 200
    assert access and access[0]["status"] == 200


def test_nginx_gives_a_request_id_when_the_client_sends_none(stack):
    response = requests.get(f"{stack.url}/readyz")
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert app_lines_with(stack, request_id)[0]["path"] == "/readyz"


def test_readyz_answers_through_nginx(stack):
    response = requests.get(f"{stack.url}/readyz")
    assert response.status_code == 200
    assert response.json() == {"success": True}


def test_server_version_is_not_disclosed(stack):
    response = requests.get(f"{stack.url}/healthz")
    assert response.headers["Server"] == "nginx"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_cors_preflight_from_the_spa_origin(stack):
    response = requests.options(
        f"{stack.url}/api/openapi.json",
        headers={
            "Origin": SPA_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Idempotency-Key, Content-Type",
        },
    )
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert {"authorization", "idempotency-key", "content-type"} <= allowed
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_cors_refuses_another_origin(stack):
    response = requests.get(
        f"{stack.url}/api/openapi.json", headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_oversized_body_is_a_json_413_from_nginx(stack):
    body = b'{"content": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = requests.post(
        f"{stack.url}/api/sessions",
        data=body,
        headers={"Content-Type": "application/json", "X-Request-ID": "e2e-too-large"},
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-ID"] == "e2e-too-large"
    assert ERROR_KEYS <= set(response.json())
    assert response.json()["success"] is False and response.json()["code"] == 413
    assert app_lines_with_none(stack, "e2e-too-large")


def app_lines_with_none(stack, request_id):
    """True when the app never saw the request (nginx stopped it)."""
    time.sleep(0.2)
    return not [x for x in stack.app_log_lines() if x.get("request_id") == request_id]


def test_body_under_the_limit_reaches_the_app(stack):
    body = b'{"content": "' + b"x" * (512 * 1024) + b'"}'
    response = requests.post(
        f"{stack.url}/healthz", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 405  # the app's answer: /healthz is GET only
    assert response.json()["code"] == 405 and response.json()["success"] is False


def test_json_is_gzipped(stack):
    response = requests.get(f"{stack.url}/api/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.json()["openapi"].startswith("3.")


def test_small_json_is_not_compressed(stack):
    response = requests.get(f"{stack.url}/healthz", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in response.headers
    assert response.json() == {"success": True}


def test_spoofed_forwarded_for_does_not_change_the_client_address(stack):
    request_id = f"e2e-{uuid.uuid4().hex}"
    headers = {"X-Request-ID": request_id, "X-Forwarded-For": "203.0.113.7"}
    requests.get(f"{stack.url}/healthz", headers=headers)
    [line] = app_lines_with(stack, request_id)
    assert line["remote_addr"] == "127.0.0.1"


def scrape(stack):
    response = requests.get(f"{stack.url}/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def healthz_count(samples):
    labels = (("endpoint", "/healthz"), ("method", "GET"), ("status", "200"))
    return samples.get(("http_requests_total", labels), 0.0)


def healthz_count_per_worker(stack):
    """The /healthz count each worker wrote to its own file, by file name (one per pid)."""
    counts = {}
    for path in stack.metrics_dir.glob("counter_*.db"):
        counts[path.stem] = sum(
            sample.value
            for family in MultiProcessCollector.merge([str(path)])
            for sample in family.samples
            if sample.name == "http_requests_total" and sample.labels["endpoint"] == "/healthz"
        )
    return counts


def test_metrics_add_up_every_worker(stack):
    before = healthz_count(scrape(stack))
    # New connections straight to gunicorn, many at once, so every worker takes a share.
    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(
            pool.map(
                lambda _: (
                    requests.get(
                        f"{stack.gunicorn_url}/healthz", headers={"Connection": "close"}
                    ).status_code
                ),
                range(120),
            )
        )
    after = healthz_count(scrape(stack))
    per_worker = healthz_count_per_worker(stack)
    assert answers == [200] * 120
    assert after - before == 120
    assert after == sum(per_worker.values())
    assert len([count for count in per_worker.values() if count]) >= 2


def test_rate_limit_count_is_shared_by_every_worker(stack, token_for):
    headers = {"Authorization": f"Bearer {token_for(f'e2e-{uuid.uuid4().hex}')}"}
    headers["Connection"] = "close"
    remaining = [
        int(
            requests.get(f"{stack.gunicorn_url}/api/openapi.json", headers=headers).headers[
                "X-RateLimit-Remaining"
            ]
        )
        for _ in range(12)
    ]
    first = remaining[0]
    assert remaining == list(range(first, first - 12, -1))


def get_from(url, path, source, headers=None):
    """GET `path` from the loopback address `source`: 127.0.0.2 is on no allow-list."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(
        address.hostname, address.port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path", ["/metrics", "/metrics/", "/metrics?format=text", "//metrics", "/%6Detrics%2F"]
)
def test_metrics_are_refused_outside_the_allowed_networks_however_spelled(stack, path):
    status, headers, body = get_from(stack.url, path, "127.0.0.2")
    assert status == 403
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(body)["type"] == "forbidden"


def test_metrics_answer_on_one_path_inside_the_allowed_networks(stack):
    status, _, body = get_from(stack.url, "/metrics", "127.0.0.1")
    trailing_status, trailing_headers, _ = get_from(stack.url, "/metrics/", "127.0.0.1")
    assert status == 200 and b"http_requests_total" in body
    assert trailing_status == 404
    assert trailing_headers["Content-Type"] == "application/json"


def test_other_paths_answer_any_address(stack):
    status, headers, body = get_from(stack.url, "/api/interviews", "127.0.0.2")
    assert status == 401
    assert json.loads(body)["type"] == "missing_token"
    assert headers["Content-Type"] == "application/json"


TOO_LARGE = b'{"content": "' + b"x" * (2 * 1024 * 1024) + b'"}'


def test_nginx_413_carries_cors_and_nosniff_for_the_spa(stack):
    response = requests.post(
        f"{stack.url}/api/sessions",
        data=TOO_LARGE,
        headers={"Content-Type": "application/json", "Origin": SPA_ORIGIN},
    )
    assert response.status_code == 413
    assert response.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.json()["type"] == "body_too_large"


def test_nginx_413_gives_no_cors_to_another_origin(stack):
    response = requests.post(
        f"{stack.url}/api/sessions",
        data=TOO_LARGE,
        headers={"Content-Type": "application/json", "Origin": "https://evil.example"},
    )
    assert response.status_code == 413
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_overlong_url_is_a_json_414_from_nginx(stack):
    # nginx stops at the request line, before reading any header: no CORS can be answered.
    response = requests.get(f"{stack.url}/api/performances", params={"q": "x" * 9000})
    assert response.status_code == 414
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert ERROR_KEYS <= set(response.json())
    assert (response.json()["code"], response.json()["type"]) == (414, "uri_too_long")


def chunks(total, size=64 * 1024):
    """A body of `total` bytes sent chunked (no Content-Length)."""
    yield b'{"content": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


@pytest.mark.parametrize("where", ["nginx", "gunicorn"])
def test_chunked_body_over_the_limit_is_413(stack, token_for, where):
    url = stack.url if where == "nginx" else stack.gunicorn_url
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token_for('e2e-chunked')}",
    }
    response = requests.post(f"{url}/api/sessions", data=chunks(2 * 1024 * 1024), headers=headers)
    assert response.status_code == 413
    assert response.json()["code"] == 413 and response.json()["success"] is False


def test_upstream_down_is_a_json_503_with_cors_and_nosniff(nginx_without_upstream):
    response = requests.get(
        f"{nginx_without_upstream}/api/sessions",
        headers={"Origin": SPA_ORIGIN, "X-Request-ID": "e2e-upstream-down"},
    )
    body = response.json()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"] == "e2e-upstream-down"
    assert ERROR_KEYS <= set(body) and body["type"] == "service_unavailable"


def test_debian_default_site_left_enabled_is_refused_loudly(tmp_path):
    # The README's step removes it; kept, nginx would answer every API path with its HTML 404.
    config = render_nginx(tmp_path, free_port(), free_port(), default_site=True)
    check = subprocess.run(
        [*nginx_arguments(tmp_path, config), "-t"], capture_output=True, text=True
    )
    assert check.returncode != 0
    assert "duplicate default server" in check.stderr


def test_without_the_default_site_the_config_test_passes(tmp_path):
    config = render_nginx(tmp_path, free_port(), free_port())
    check = subprocess.run(
        [*nginx_arguments(tmp_path, config), "-t"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
