"""Rate limits: per verified user or client address, counted in the database, shared by workers."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
import pymongo
import pymongo.errors
import pytest

from interview_service.extensions import RETRY_AFTER_SECONDS
from interview_service.observability import user_hash
from tests.command_log import COMMANDS
from tests.conftest import LIMITS, bearer

LIMITED = "/api/openapi.json"  # any route outside the ops blueprint is limited


@pytest.fixture
def limited_app(make_app):
    """Build apps with limits turned on: 3 requests per minute per caller, by default."""
    return lambda uri, **overrides: make_app(uri, **{**LIMITS, **overrides})


@pytest.fixture
def app_settings():
    """`app` and `wire_app` with limits on (counted in memory on mongomock)."""
    return LIMITS


def spent_and_fresh(client, spent, fresh):
    """Spend the budget (3) of the caller `spent` describes, then one more request as it and
    one as the caller `fresh` describes: (the spent one's answer, the fresh one's)."""
    for _ in range(3):
        client.get(LIMITED, **spent)
    return client.get(LIMITED, **spent), client.get(LIMITED, **fresh)


def test_requests_within_the_limit_carry_the_rate_headers(app):
    client = app.test_client()
    responses = [client.get(LIMITED) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0"]
    assert responses[0].headers["X-RateLimit-Limit"] == "3"
    assert int(responses[0].headers["X-RateLimit-Reset"]) > time.time()
    assert "Retry-After" not in responses[0].headers


def test_request_over_the_limit_is_429_in_the_error_shape(app):
    client = app.test_client()
    for _ in range(3):
        client.get(LIMITED)
    response = client.get(LIMITED)
    body = response.get_json()
    assert response.status_code == 429
    assert body["success"] is False
    assert body["code"] == 429 and body["status"] == "Too Many Requests"
    assert body["message"] == body["error"]
    assert "Rate limit exceeded (3 per minute)" in body["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_users_have_separate_budgets(app):
    client = app.test_client()
    for _ in range(4):
        client.get(LIMITED, headers=bearer(app.config, "alice"))
    response = client.get(LIMITED, headers=bearer(app.config, "bob"))
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "2"


def test_a_user_is_limited_across_addresses(app):
    client = app.test_client()
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        client.get(
            LIMITED, headers=bearer(app.config, "alice"), environ_base={"REMOTE_ADDR": address}
        )
    response = client.get(
        LIMITED, headers=bearer(app.config, "alice"), environ_base={"REMOTE_ADDR": "10.0.0.4"}
    )
    assert response.status_code == 429
    assert response.get_json()["code"] == 429


def test_anonymous_callers_are_limited_per_address(app):
    blocked, other = spent_and_fresh(
        app.test_client(),
        {"environ_base": {"REMOTE_ADDR": "10.0.0.1"}},
        {"environ_base": {"REMOTE_ADDR": "10.0.0.2"}},
    )
    assert blocked.status_code == 429
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "2"


def test_forged_token_counts_against_the_address_not_the_claimed_user(app):
    now = datetime.now(UTC)
    forged = jwt.encode(
        {"sub": "alice", "exp": now + timedelta(hours=1)}, "x" * 40, algorithm="HS256"
    )
    client = app.test_client()
    for _ in range(4):
        client.get(LIMITED, headers={"Authorization": f"Bearer {forged}"})
    response = client.get(LIMITED, headers=bearer(app.config, "alice"))
    anonymous = client.get(LIMITED)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "2"
    assert anonymous.status_code == 429


def test_forwarded_address_picks_the_bucket_behind_a_proxy(limited_app, db_uri):
    blocked, other = spent_and_fresh(
        limited_app(db_uri, PROXY_FIX_X_FOR=1).test_client(),
        {"headers": {"X-Forwarded-For": "203.0.113.1"}},
        {"headers": {"X-Forwarded-For": "203.0.113.2"}},
    )
    assert blocked.status_code == 429
    assert other.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_and_metrics_are_never_limited(app, path):
    client = app.test_client()
    responses = [client.get(path) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert "X-RateLimit-Limit" not in responses[-1].headers


def test_cors_preflight_is_not_counted(app):
    client = app.test_client()
    preflight = {"Origin": "http://spa.test", "Access-Control-Request-Method": "GET"}
    for _ in range(5):
        assert client.options(LIMITED, headers=preflight).status_code == 200
    response = client.get(LIMITED)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "2"


def test_two_app_instances_share_one_count(limited_app, wire_uri):
    """Two apps (as two gunicorn workers would) with their own clients share one budget."""
    first, second = limited_app(wire_uri), limited_app(wire_uri)
    headers = bearer(first.config, "alice")
    answers = [
        first.test_client().get(LIMITED, headers=headers),
        second.test_client().get(LIMITED, headers=headers),
        first.test_client().get(LIMITED, headers=headers),
        second.test_client().get(LIMITED, headers=headers),
        first.test_client().get(LIMITED, headers=headers),
    ]
    name = wire_uri.split("?")[0].rsplit("/", 1)[1]
    base = wire_uri.split("?")[0].rsplit("/", 1)[0]
    with pymongo.MongoClient(base, directConnection=True) as client:
        [counter] = client[name]["rate_limits"].find()
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert user_hash("alice") in counter["_id"]
    assert counter["count"] == 5


def test_database_outage_keeps_its_own_retry_after(wire_app):
    @wire_app.route("/api/flaky")
    def flaky():
        raise pymongo.errors.ServerSelectionTimeoutError("no primary")

    client = wire_app.test_client()
    response = client.get("/api/flaky")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.get_json()["code"] == 503


def test_unreachable_limit_storage_answers_503_quickly(unreachable_app):
    application = unreachable_app(**LIMITS)
    started = time.monotonic()
    response = application.test_client().get(LIMITED)
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.get_json()["success"] is False


def test_limits_off_never_touch_the_database(unreachable_app):
    application = unreachable_app()
    responses = [application.test_client().get(LIMITED) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert "X-RateLimit-Limit" not in responses[-1].headers


@pytest.mark.parametrize("value", ["lots", "300 per fortnight", ""])
def test_invalid_default_limit_is_refused_at_start(make_app, value):
    with pytest.raises(RuntimeError, match="RATE_LIMIT_DEFAULT"):
        make_app("mongomock://localhost/limits", RATE_LIMIT_DEFAULT=value)


def test_a_limited_request_costs_one_database_command(limited_app, wire_uri):
    application = limited_app(wire_uri)
    client = application.test_client()
    client.get(LIMITED)  # the storage's client and indexes are made on the first request
    with COMMANDS.recording() as commands:
        within = client.get(LIMITED)
        client.get(LIMITED)
        over = client.get(LIMITED)
    assert within.headers["X-RateLimit-Remaining"] == "1"
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    assert commands == [("findAndModify", "rate_limits")] * 3


def test_concurrent_requests_on_two_apps_are_counted_exactly(limited_app, wire_uri):
    """Two apps (two workers' clients) hammered at once: exactly the budget passes, and each
    passing answer reports a distinct remaining count."""
    apps = [
        limited_app(wire_uri, RATE_LIMIT_DEFAULT="12 per minute"),
        limited_app(wire_uri, RATE_LIMIT_DEFAULT="12 per minute"),
    ]
    headers = bearer(apps[0].config, "alice")
    # One request each first: a storage's first request makes its client and indexes, and its
    # headers may come from a read that sees another worker's hit (a known cold-start gap).
    for application in apps:
        assert application.test_client().get(LIMITED, headers=headers).status_code == 200

    def call(number):
        response = apps[number % 2].test_client().get(LIMITED, headers=headers)
        return response.status_code, response.headers.get("X-RateLimit-Remaining")

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(call, range(14)))
    passed = sorted(int(remaining) for status, remaining in answers if status == 200)
    assert passed == list(range(10))
    assert sorted(status for status, _ in answers).count(429) == 4
