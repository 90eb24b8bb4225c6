"""What a client developer relies on beside the bodies: error types, auth challenges, malformed
JSON, Location, caching and CORS headers, body limits and the one metrics path."""

import io
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from config import Development
from tests.factories import create_interview, create_session, interview_body, post_session

MESSAGE = {"role": "assistant", "content": "Tell me about yourself."}


def test_validation_error_has_type_validation_failed(client, alice):
    response = client.post("/api/sessions", json={"config": {}}, headers=alice)
    assert response.status_code == 422
    assert response.get_json()["type"] == "validation_failed"


def test_unknown_session_has_type_not_found(client, alice):
    response = client.get("/api/sessions/" + "x" * 20, headers=alice)
    assert response.status_code == 404
    assert response.get_json()["type"] == "not_found"


def test_append_to_an_ended_session_has_type_session_not_in_progress(client, alice):
    session_id = create_session(client, alice)
    client.put(f"/api/sessions/{session_id}/end", json={}, headers=alice)
    response = client.post(f"/api/sessions/{session_id}/conversations", json=MESSAGE, headers=alice)
    body = response.get_json()
    assert response.status_code == 409
    assert body["type"] == "session_not_in_progress"
    assert body["message"] == body["error"]


def test_missing_token_gets_a_bare_bearer_challenge(client):
    response = client.get("/api/interviews")
    assert response.status_code == 401
    assert response.get_json()["type"] == "missing_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="interview-service"'


def test_bad_token_gets_an_invalid_token_challenge_without_decoder_internals(client):
    response = client.get("/api/interviews", headers={"Authorization": "Bearer not.a.token"})
    body = response.get_json()
    assert response.status_code == 401
    assert body["type"] == "invalid_token"
    assert body["message"] == "Invalid token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_expired_token_has_type_token_expired(app, client):
    past = datetime.now(UTC) - timedelta(hours=1)
    token = jwt.encode({"sub": "alice", "exp": past}, app.config["JWT_SECRET"])
    response = client.get("/api/interviews", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json()["type"] == "token_expired"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("body", [b"{bad", b'{"config": ', b"", b"\xff\xfe"])
def test_malformed_json_is_a_400_that_says_so(client, alice, body):
    response = client.post(
        "/api/sessions", data=body, content_type="application/json", headers=alice
    )
    payload = response.get_json()
    assert response.status_code == 400
    assert payload["type"] == "malformed_json"
    assert payload["message"].startswith("Request body is not valid JSON")


def test_every_201_carries_a_location_that_answers(client, alice):
    created = post_session(client, alice)
    session_id = created.get_json()["sessionId"]
    interview = create_interview(client, alice)
    answers = [
        created,
        client.post(f"/api/sessions/{session_id}/conversations", json=MESSAGE, headers=alice),
        client.post(
            f"/api/sessions/{session_id}/conversations",
            json={"messages": [MESSAGE, {"role": "user", "content": "Hi"}]},
            headers=alice,
        ),
        client.post(
            f"/api/sessions/{session_id}/reports",
            json={"reportType": "summary", "content": {"summary": "Fine"}},
            headers=alice,
        ),
        client.post("/api/interviews", json=interview_body(), headers=alice),
        client.put(
            f"/api/interviews/{interview['id']}/performance", json={"score": 80}, headers=alice
        ),
    ]
    assert [answer.status_code for answer in answers] == [201] * len(answers)
    for answer in answers:
        assert client.get(answer.headers["Location"], headers=alice).status_code == 200


def test_location_names_the_created_resource(client, alice):
    created = post_session(client, alice)
    interview = client.post("/api/interviews", json=interview_body(), headers=alice)
    assert created.headers["Location"] == f"/api/sessions/{created.get_json()['sessionId']}"
    assert (
        interview.headers["Location"]
        == f"/api/interviews/{interview.get_json()['interview']['id']}"
    )


def test_user_data_is_never_stored_by_caches(client, alice):
    session_id = create_session(client, alice)
    for path in (f"/api/sessions/{session_id}", "/api/performance-stats", "/api/interviews"):
        assert client.get(path, headers=alice).headers["Cache-Control"] == "no-store"
    assert client.get("/api/interviews").headers["Cache-Control"] == "no-store"  # a 401 too


def test_the_api_document_may_be_cached(client):
    assert "Cache-Control" not in client.get("/api/openapi.json").headers


def test_csv_file_name_is_readable_cross_origin(client, alice):
    response = client.get(
        "/api/performances/export.csv", headers={**alice, "Origin": "http://spa.test"}
    )
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert response.status_code == 200
    assert {"Content-Disposition", "Location"} <= exposed
    assert response.headers["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:5173"])
def test_development_cors_allows_localhost_and_127_0_0_1(make_app, db_uri, origin):
    development = make_app(db_uri, CORS_ORIGINS=Development.CORS_ORIGINS)
    response = development.test_client().options(
        "/api/sessions",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert response.headers["Access-Control-Allow-Origin"] == origin


def chunked_post(client, headers, body):
    """POST `body` without Content-Length, as a chunked request reaches the app."""
    return client.post(
        "/api/sessions",
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn sets for chunked
    )


def test_chunked_body_over_the_limit_is_413(app, client, alice):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = chunked_post(client, alice, b"[" + b" " * limit + b"]")
    assert response.status_code == 413
    assert response.get_json()["type"] == "body_too_large"


def test_chunked_body_of_exactly_the_limit_reaches_validation(app, client, alice):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = chunked_post(client, alice, b"[" + b" " * (limit - 2) + b"]")
    assert response.status_code == 422


def test_small_chunked_body_is_served(client, alice):
    body = b'{"config": {"role": "Dev", "interviewType": "technical", "difficulty": "mid"}}'
    response = chunked_post(client, alice, body)
    assert response.status_code == 201


def test_metrics_are_served_on_one_path_only(client):
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics/").status_code == 404


class StalledBody(io.RawIOBase):
    """A request body whose first bytes come, then the read times out (gunicorn's deadline)."""

    def __init__(self, first):
        self.first = first

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self.first:
            raise TimeoutError("request body not received in time")
        size = len(self.first)
        buffer[:size], self.first = self.first, b""
        return size


def test_body_that_stalls_is_408(client, alice):
    response = client.post(
        "/api/sessions",
        data=b"x" * 500,  # sets Content-Length; the body read is the stalled stream below
        headers={**alice, "Content-Type": "application/json"},
        environ_overrides={"wsgi.input": StalledBody(b'{"config": ')},
    )
    assert response.status_code == 408
    assert response.get_json()["type"] == "request_timeout"
