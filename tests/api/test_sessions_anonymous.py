"""Anonymous sessions are reached by their sessionId alone: it must be unguessable, and only a
true retry (the same body) of an anonymous create is handed the existing session."""

import secrets
from collections import Counter

import pytest

from interview_service.sessions.models import Session as SessionDocument
from interview_service.sessions.service import unguessable
from tests.api.test_sessions_concurrency import race

CONFIG = {"role": "Backend Engineer", "interviewType": "technical", "difficulty": "mid"}
RESUME = {"fileName": "cv.txt", "content": "Ten years of Python."}
WEAK_IDS = [
    "aaaaaaaaaaaaaaaa",
    "a" * 64,
    "abababababababababababababababab",
    "anonymous-session-02",
    "0123456789012345678901234567890123",
    "session_1712345678901",
]


def strong_id():
    """16 random bytes as base64url: what a client should send."""
    return secrets.token_urlsafe(16)


def post(client, headers=None, **body):
    return client.post("/api/sessions", json={"config": CONFIG, **body}, headers=headers)


@pytest.mark.parametrize(
    "session_id",
    [
        "Jq2Zk3X9vB0mW7tL5rN8pQ",
        "9f86d081884c7d659a2feaa0c55ad015",
        "1B2M2Y8AsgTpgAmY7PhCfg-_rFzM0aWQ",
        "0a2e1c4e-9ad5-4f3b-8c1d-7b9e2f6a4d10",
    ],
    ids=["base64url-16-bytes", "hex-16-bytes", "base64url-24-bytes", "uuid4"],
)
def test_unguessable_accepts_128_random_bits_and_more(session_id):
    assert unguessable(session_id) is True


@pytest.mark.parametrize("session_id", WEAK_IDS)
def test_unguessable_refuses_short_or_patterned_ids(session_id):
    assert unguessable(session_id) is False


@pytest.mark.parametrize("session_id", WEAK_IDS)
def test_anonymous_create_with_a_guessable_id_answers_422_and_stores_nothing(client, session_id):
    response = post(client, sessionId=session_id)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["sessionId"]
    assert "128 random bits" in response.get_json()["errors"]["sessionId"][0]
    assert SessionDocument.objects.count() == 0


def test_anonymous_create_without_an_id_gets_a_server_drawn_one(client):
    response = post(client)
    assert response.status_code == 201
    session_id = response.get_json()["sessionId"]
    assert len(session_id) == 32 and unguessable(session_id)
    assert response.get_json()["session"]["userId"] is None


@pytest.mark.parametrize(
    "session_id", ["Jq2Zk3X9vB0mW7tL5rN8pQ", "9f86d081884c7d659a2feaa0c55ad015"]
)
def test_anonymous_create_with_an_unguessable_id_keeps_it(client, session_id):
    response = post(client, sessionId=session_id)
    assert response.status_code == 201
    assert response.get_json()["sessionId"] == session_id


def test_anonymous_retry_with_the_same_body_answers_200_with_the_existing_session(client):
    session_id = strong_id()
    first = post(client, sessionId=session_id, resume=RESUME)
    again = post(client, sessionId=session_id, resume=RESUME)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert SessionDocument.objects(session_id=session_id).count() == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"config": {**CONFIG, "role": "Data Engineer"}},
        {"config": {**CONFIG, "companyName": "Acme"}},
        {"resume": {**RESUME, "content": "Someone else's résumé"}},
        {"resume": None},
    ],
    ids=["other-role", "added-company", "other-resume", "no-resume"],
)
def test_anonymous_create_of_an_existing_id_with_another_body_answers_409(client, changes):
    session_id = strong_id()
    assert post(client, sessionId=session_id, resume=RESUME).status_code == 201
    response = client.post(
        "/api/sessions",
        json={"config": CONFIG, "resume": RESUME, "sessionId": session_id, **changes},
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == "sessionId is already in use"
    assert "session" not in response.get_json()
    stored = SessionDocument.objects.get(session_id=session_id)
    assert stored.config.role == "Backend Engineer" and stored.resume.content == RESUME["content"]


def test_anonymous_create_of_an_owned_session_id_answers_409(client, alice):
    session_id = strong_id()
    assert post(client, alice, sessionId=session_id).status_code == 201
    response = post(client, sessionId=session_id)
    assert response.status_code == 409
    assert "session" not in response.get_json()


def test_authenticated_create_keeps_short_ids_and_retries_by_owner(client, alice, bob):
    session_id = "client-made_id-0002"
    assert post(client, alice, sessionId=session_id).status_code == 201
    retried = post(client, alice, sessionId=session_id, resume=RESUME)
    assert retried.status_code == 200
    assert retried.get_json()["session"]["resume"] is None
    assert post(client, bob, sessionId=session_id).status_code == 409


def test_racing_anonymous_creates_make_one_session_and_refuse_other_bodies(wire_app):
    session_id = strong_id()

    def create(number):
        config = CONFIG if number % 2 == 0 else {**CONFIG, "role": f"Impostor {number}"}
        return (
            wire_app.test_client()
            .post("/api/sessions", json={"config": config, "sessionId": session_id})
            .status_code
        )

    statuses = Counter(race(8, create))
    stored = SessionDocument.objects.get(session_id=session_id)
    # The winner's body decides what is a retry: the 3 other plain configs if it sent the
    # plain one, nobody if an impostor (each sends its own role) won.
    retries = 3 if stored.config.role == CONFIG["role"] else 0
    assert statuses == Counter({201: 1, 200: retries, 409: 7 - retries})
