"""Ids are matched whole: an id with a trailing newline is refused everywhere, never stored."""

import pytest

from interview_service.performance.models import Interview, Performance
from interview_service.schemas import FullMatch
from interview_service.sessions.models import SESSION_ID_PATTERN
from interview_service.sessions.models import Session as SessionDocument
from interview_service.sessions.schemas import SessionCreateSchema
from tests.factories import create_interview, create_session, post_session

SESSION_ID_ERROR = ["Must be 16-64 of A-Z a-z 0-9 _ -."]
OBJECT_ID_ERROR = ["Must be a 24-character hex id"]


def test_full_match_refuses_what_a_dollar_anchor_lets_through():
    validator = FullMatch(SESSION_ID_PATTERN)
    assert validator("a" * 16) == "a" * 16
    for value in ("a" * 16 + "\n", "a" * 16 + "\n" + "a", "\n" + "a" * 16):
        with pytest.raises(Exception, match="does not match"):
            validator(value)


def test_session_id_with_a_trailing_newline_is_422_and_creates_nothing(client, alice):
    response = post_session(client, alice, sessionId="a1b2c3d4e5f6a7b8\n")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"sessionId": SESSION_ID_ERROR}
    assert SessionDocument.objects.count() == 0


def test_session_path_with_a_trailing_newline_is_404(client, alice):
    session_id = "client-session-id-0001"
    create_session(client, alice, sessionId=session_id)
    assert client.get(f"/api/sessions/{session_id}", headers=alice).status_code == 200
    assert client.get(f"/api/sessions/{session_id}%0A", headers=alice).status_code == 404


def test_interview_id_with_a_trailing_newline_is_422_on_every_body_and_query(client, alice):
    interview_id = create_interview(client, alice)["id"]
    padded = interview_id + "\n"
    answers = [
        client.post(
            "/api/save-performance", json={"interviewId": padded, "score": 50}, headers=alice
        ),
        client.put(
            f"/api/interviews/{interview_id}/performance",
            json={"interviewId": padded, "score": 50},
            headers=alice,
        ),
        client.delete("/api/delete-interview", json={"interviewId": padded}, headers=alice),
        client.delete(f"/api/delete-interview?interviewId={interview_id}%0A", headers=alice),
    ]
    assert [answer.status_code for answer in answers] == [422] * 4
    assert all(
        answer.get_json()["errors"] == {"interviewId": OBJECT_ID_ERROR} for answer in answers
    )
    assert Interview.objects.count() == 1 and Performance.objects.count() == 0


def test_interview_path_with_a_trailing_newline_is_404(client, alice):
    interview_id = create_interview(client, alice)["id"]
    assert client.get(f"/api/interviews/{interview_id}%0A", headers=alice).status_code == 404
    assert client.delete(f"/api/interviews/{interview_id}%0A", headers=alice).status_code == 404
    assert Interview.objects.count() == 1


def test_openapi_still_documents_the_anchored_id_patterns(client):
    spec = client.get("/api/openapi.json").get_json()
    create_body = spec["components"]["schemas"]["SessionCreate"]["properties"]
    assert create_body["sessionId"]["pattern"] == SESSION_ID_PATTERN
    assert SessionCreateSchema().fields["session_id"].validators[0].regex.pattern == (
        SESSION_ID_PATTERN
    )
