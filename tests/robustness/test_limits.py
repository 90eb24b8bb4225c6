"""Rate limits: per verified user or client address, counted in the database, shared by workers."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
import pymongo
import pymongo.errors
import pytest

from interview_service import db
from interview_service.extensions import RETRY_AFTER_SECONDS
from interview_service.observability import user_hash
from scripts.devserver import free_port
from tests.command_log import COMMANDS
from tests.conftest import bearer, make_app

LIMITED = "/api/openapi.json"  # any route outside the ops blueprint is limited


def limited_app(uri, **overrides):
    """A testing app with limits turned on: 3 requests per minute per caller, by default."""
    return make_app(
        uri, **{"RATE_LIMIT_ENABLED": True, "RATE_LIMIT_DEFAULT": "3 per minute", **overrides}
    )


@pytest.fixture
def limited(db_uri):
    """A limited app on the tier under test (counted in memory on mongomock)."""
    application = limited_app(db_uri)
    yield application
    db.disconnect()


@pytest.fixture
def wire_limited(wire_uri):
    """A limited app counting in the wire server's database."""
    application = limited_app(wire_uri)
    yield application
    db.disconnect()


def test_requests_within_the_limit_carry_the_rate_headers(limited):
    client = limited.test_client()
    responses = [client.get(LIMITED) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0"]
    assert responses[0].headers["X-RateLimit-Limit"] == "3"
    assert int(responses[0].headers["X-RateLimit-Reset"]) > time.time()
    assert "Retry-After" not in responses[0].headers


def test_request_over_the_limit_is_429_in_the_error_shape(limited):
    client = limited.test_client()
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


def test_users_have_separate_budgets(limited):
    client = limited.test_client()
    for _ in range(4):
        client.get(LIMITED, headers=bearer(limited.config, "alice"))
    response = client.get(LIMITED, headers=bearer(limited.config, "bob"))
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "2"


def test_a_user_is_limited_across_addresses(limited):
    client = limited.test_client()
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        client.get(
            LIMITED, headers=bearer(limited.config, "alice"), environ_base={"REMOTE_ADDR": address}
        )
    response = client.get(
        LIMITED, headers=bearer(limited.config, "alice"), environ_base={"REMOTE_ADDR": "10.0.0.4"}
    )
    assert response.status_code == 429
    assert response.get_json()["code"] == 429


def test_anonymous_callers_are_limited_per_address(limited):
    client = limited.test_client()
    for _ in range(3):
        client.get(LIMITED, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    blocked = client.get(LIMITED, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    other = client.get(LIMITED, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert blocked.status_code == 429
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "2"


def test_forged_token_counts_against_the_address_not_the_claimed_user(limited):
    now = datetime.now(UTC)
    forged = jwt.encode(
        {"sub": "alice", "exp": now + timedelta(hours=1)}, "x" * 40, algorithm="HS256"
    )
    client = limited.test_client()
    for _ in range(4):
        client.get(LIMITED, headers={"Authorization": f"Bearer {forged}"})
    response = client.get(LIMITED, headers=bearer(limited.config, "alice"))
    anonymous = client.get(LIMITED)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "2"
    assert anonymous.status_code == 429


def test_forwarded_address_picks_the_bucket_behind_a_proxy(db_uri):
    application = limited_app(db_uri, PROXY_FIX_X_FOR=1)
    client = application.test_client()
    for _ in range(3):
        client.get(LIMITED, headers={"X-Forwarded-For": "203.0.113.1"})
    blocked = client.get(LIMITED, headers={"X-Forwarded-For": "203.0.113.1"})
    other = client.get(LIMITED, headers={"X-Forwarded-For": "203.0.113.2"})
    db.disconnect()
    assert blocked.status_code == 429
    assert other.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_and_metrics_are_never_limited(limited, path):
    client = limited.test_client()
    responses = [client.get(path) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert "X-RateLimit-Limit" not in responses[-1].headers


def test_cors_preflight_is_not_counted(limited):
    client = limited.test_client()
    preflight = {"Origin": "http://spa.test", "Access-Control-Request-Method": "GET"}
    for _ in range(5):
        assert client.options(LIMITED, headers=preflight).status_code == 200
    response = client.get(LIMITED)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "2"


def test_two_app_instances_share_one_count(wire_uri):
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
    db.disconnect()
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert user_hash("alice") in counter["_id"]
    assert counter["count"] == 5


def test_database_outage_keeps_its_own_retry_after(wire_limited):
    @wire_limited.route("/api/flaky")
    def flaky():
        raise pymongo.errors.ServerSelectionTimeoutError("no primary")

    client = wire_limited.test_client()
    response = client.get("/api/flaky")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.get_json()["code"] == 503


def test_unreachable_limit_storage_answers_503_quickly():
    uri = f"mongodb://127.0.0.1:{free_port()}/down?directConnection=true"
    application = limited_app(
        uri,
        MONGODB_SERVER_SELECTION_TIMEOUT_MS=300,
        MONGODB_TIMEOUT_MS=500,
        CREATE_INDEXES_ON_START=False,
    )
    started = time.monotonic()
    response = application.test_client().get(LIMITED)
    db.disconnect()
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.get_json()["success"] is False


def test_limits_off_never_touch_the_database():
    uri = f"mongodb://127.0.0.1:{free_port()}/down?directConnection=true"
    application = make_app(
        uri,
        MONGODB_SERVER_SELECTION_TIMEOUT_MS=300,
        MONGODB_TIMEOUT_MS=500,
        CREATE_INDEXES_ON_START=False,
    )
    responses = [application.test_client().get(LIMITED) for _ in range(5)]
    db.disconnect()
    assert [r.status_code for r in responses] == [200] * 5
    assert "X-RateLimit-Limit" not in responses[-1].headers


def test_limits_are_off_in_testing_by_default(client):
    responses = [client.get(LIMITED) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert "X-RateLimit-Remaining" not in responses[-1].headers


@pytest.mark.parametrize("value", ["lots", "300 per fortnight", ""])
def test_invalid_default_limit_is_refused_at_start(value):
    with pytest.raises(RuntimeError, match="RATE_LIMIT_DEFAULT"):
        make_app("mongomock://localhost/limits", RATE_LIMIT_DEFAULT=value)


def test_a_limited_request_costs_one_database_command(wire_uri):
    application = limited_app(wire_uri)
    client = application.test_client()
    client.get(LIMITED)  # the storage's client and indexes are made on the first request
    with COMMANDS.recording() as commands:
        within = client.get(LIMITED)
        client.get(LIMITED)
        over = client.get(LIMITED)
    db.disconnect()
    assert within.headers["X-RateLimit-Remaining"] == "1"
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    assert commands == [("findAndModify", "rate_limits")] * 3


def test_concurrent_requests_on_two_apps_are_counted_exactly(wire_uri):
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
    db.disconnect()
    passed = sorted(int(remaining) for status, remaining in answers if status == 200)
    assert passed == list(range(10))
    assert sorted(status for status, _ in answers).count(429) == 4
