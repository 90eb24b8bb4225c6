"""Sessions: create, read, list, end, delete, expiry."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from interview_service.sessions.models import DIFFICULTIES, INTERVIEW_TYPES, Message, Report
from interview_service.sessions.models import Session as SessionDocument
from tests.factories import (
    ISO_Z,
    SESSION_CONFIG,
    add_reports,
    append,
    collect_pages,
    create_session,
    iso,
    post_session,
    question,
    session_url,
    transcript,
)

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
# Valid ISO 8601 whose UTC falls outside years 1-9999.
BEYOND_THE_CALENDAR = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]
OUT_OF_CALENDAR = "Not a valid datetime: outside years 0001-9999 in UTC."


# --- create ------------------------------------------------------------------------------


def test_create_session_answers_201_with_unguessable_id(client, alice):
    resume = {"fileName": "cv.txt", "content": "Ten years of Go"}
    response = post_session(client, alice, resume=resume)
    body = response.get_json()
    session = body["session"]
    assert response.status_code == 201
    assert body["success"] is True
    assert body["sessionId"] == session["sessionId"]
    # token_urlsafe(24): 32 characters of 6 bits.
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", body["sessionId"])
    assert session["userId"] == "alice"
    assert session["config"] == {**SESSION_CONFIG, "customRole": None, "interviewId": None}
    assert session["resume"] == {"fileName": "cv.txt", "content": "Ten years of Go"}
    assert session["status"] == "in_progress"
    assert session["statistics"] == {
        "questionCount": 0,
        "totalMessages": 0,
        "userMessages": 0,
        "agentMessages": 0,
    }
    assert session["endTime"] is None and session["duration"] is None
    assert all(ISO_Z.match(session[key]) for key in ("startTime", "createdAt", "updatedAt"))


def test_create_generates_a_new_id_each_time(client, alice):
    assert create_session(client, alice) != create_session(client, alice)


def test_create_keeps_a_client_session_id(client, alice):
    response = post_session(client, alice, sessionId="client-made_id-0001")
    assert response.status_code == 201
    assert response.get_json()["sessionId"] == "client-made_id-0001"
    assert response.get_json()["session"]["sessionId"] == "client-made_id-0001"


def test_create_same_session_id_again_answers_200_with_the_existing_session(client, alice):
    body = {"config": SESSION_CONFIG, "sessionId": "retried-create-00001"}
    first = client.post("/api/sessions", json=body, headers=alice)
    second = client.post(
        "/api/sessions", json={**body, "config": {**SESSION_CONFIG, "role": "Other"}}, headers=alice
    )
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.get_json() == first.get_json()
    assert client.get("/api/sessions", headers=alice).get_json()["items"][0]["config"]["role"] == (
        "Backend Engineer"
    )
    assert len(client.get("/api/sessions", headers=alice).get_json()["items"]) == 1


def test_create_same_session_id_by_another_user_answers_409(client, alice, bob):
    create_session(client, alice, sessionId="taken-session-id-001")
    response = post_session(client, bob, sessionId="taken-session-id-001")
    assert response.status_code == 409
    assert response.get_json()["error"] == "sessionId is already in use"
    assert client.get("/api/sessions", headers=bob).get_json()["items"] == []


def test_create_same_anonymous_session_id_with_a_token_answers_409(client, alice):
    create_session(client, sessionId="Jq2Zk3X9vB0mW7tL5rN8pQ")
    response = post_session(client, alice, sessionId="Jq2Zk3X9vB0mW7tL5rN8pQ")
    assert response.status_code == 409
    assert response.get_json()["success"] is False


def test_create_same_anonymous_session_id_anonymously_answers_200(client):
    body = {"config": SESSION_CONFIG, "sessionId": "9f86d081884c7d659a2feaa0c55ad015"}
    client.post("/api/sessions", json=body)
    response = client.post("/api/sessions", json=body)
    assert response.status_code == 200
    assert response.get_json()["session"]["userId"] is None


def test_create_without_token_makes_an_anonymous_session(client):
    response = post_session(client)
    assert response.status_code == 201
    assert response.get_json()["session"]["userId"] is None


def test_create_without_token_when_anonymous_is_off_answers_401(app, client):
    app.config["ALLOW_ANONYMOUS_SESSIONS"] = False
    response = post_session(client)
    assert response.status_code == 401
    assert response.get_json()["error"] == "Missing bearer token"
    assert SessionDocument.objects.count() == 0


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/api/sessions", {"config": "not an object"}),
        ("post", "/api/sessions/0000000000000000/conversations", {"role": "x", "messages": []}),
        ("put", "/api/sessions/0000000000000000/end", {"status": "unknown"}),
    ],
)
def test_invalid_input_without_token_when_anonymous_is_off_answers_401_first(
    app, client, method, path, body
):
    app.config["ALLOW_ANONYMOUS_SESSIONS"] = False
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 401
    assert response.get_json()["error"] == "Missing bearer token"


def test_invalid_input_with_a_bad_token_answers_401_first(client):
    response = client.post(
        "/api/sessions", json={"config": "x"}, headers={"Authorization": "Bearer not-a-token"}
    )
    assert response.status_code == 401


def test_create_with_a_bad_token_answers_401(client):
    response = post_session(client, {"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.get_json()["error"].startswith("Invalid token")


def test_create_accepts_every_interview_type_and_difficulty(client, alice):
    for interview_type in INTERVIEW_TYPES:
        for difficulty in DIFFICULTIES:
            config = {**SESSION_CONFIG, "interviewType": interview_type, "difficulty": difficulty}
            response = client.post("/api/sessions", json={"config": config}, headers=alice)
            assert response.status_code == 201
            assert response.get_json()["session"]["config"]["difficulty"] == difficulty
    assert SessionDocument.objects.count() == len(INTERVIEW_TYPES) * len(DIFFICULTIES)


@pytest.mark.parametrize(
    "body, errors",
    [
        ({}, {"config": ["Missing data for required field."]}),
        (
            {"config": {**SESSION_CONFIG, "interviewType": "poetry"}},
            {"config": {"interviewType": ["Must be one of: " + ", ".join(INTERVIEW_TYPES) + "."]}},
        ),
        (
            {"config": {**SESSION_CONFIG, "difficulty": "impossible"}},
            {"config": {"difficulty": ["Must be one of: " + ", ".join(DIFFICULTIES) + "."]}},
        ),
        (
            {"config": {**SESSION_CONFIG, "interactionMode": "telepathy"}},
            {"config": {"interactionMode": ["Must be one of: speech, text."]}},
        ),
        (
            {"config": {key: SESSION_CONFIG[key] for key in ("interviewType", "difficulty")}},
            {"config": {"role": ["Missing data for required field."]}},
        ),
        (
            {"config": SESSION_CONFIG, "sessionId": "short"},
            {"sessionId": ["Must be 16-64 of A-Z a-z 0-9 _ -."]},
        ),
        (
            {"config": SESSION_CONFIG, "sessionId": "has spaces in it !!"},
            {"sessionId": ["Must be 16-64 of A-Z a-z 0-9 _ -."]},
        ),
        ({"config": SESSION_CONFIG, "owner": "bob"}, {"owner": ["Unknown field."]}),
        ({"config": {**SESSION_CONFIG, "level": 3}}, {"config": {"level": ["Unknown field."]}}),
        (
            {"config": SESSION_CONFIG, "resume": {"content": "x", "pages": 2}},
            {"resume": {"pages": ["Unknown field."]}},
        ),
    ],
)
def test_create_with_invalid_body_answers_422(client, alice, body, errors):
    response = client.post("/api/sessions", json=body, headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == errors
    assert response.get_json()["message"] == "Validation failed"
    assert SessionDocument.objects.count() == 0


def create_with_resume(app, client, headers, chars):
    """POST a session whose résumé has `chars` characters, RESUME_MAX_CHARS being 10."""
    app.config["RESUME_MAX_CHARS"] = 10
    return post_session(client, headers, resume={"content": "x" * chars})


def test_create_with_resume_over_the_limit_answers_422(app, client, alice):
    response = create_with_resume(app, client, alice, 11)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"resume": {"content": ["Longer than 10 characters."]}}
    assert SessionDocument.objects.count() == 0


def test_create_with_resume_at_the_limit_answers_201(app, client, alice):
    response = create_with_resume(app, client, alice, 10)
    assert response.status_code == 201
    assert response.get_json()["session"]["resume"]["content"] == "x" * 10


# --- read --------------------------------------------------------------------------------


def test_get_session_returns_session_transcript_and_latest_report(client, alice, session_id):
    question(client, session_id, alice)
    append(client, session_id, alice, content="I build APIs")
    client.post(
        session_url(session_id, "/reports"),
        json={"reportType": "summary", "content": {}},
        headers=alice,
    )
    client.post(
        session_url(session_id, "/reports"),
        json={"reportType": "feedback", "content": {"summary": "latest"}},
        headers=alice,
    )
    response = client.get(session_url(session_id), headers=alice)
    body = response.get_json()
    assert response.status_code == 200
    assert body["success"] is True
    assert body["session"]["sessionId"] == session_id
    assert [m["content"] for m in body["conversations"]] == [
        "Tell me about yourself?",
        "I build APIs",
    ]
    assert [m["messageIndex"] for m in body["conversations"]] == [0, 1]
    assert body["report"]["reportType"] == "feedback"
    assert body["report"]["content"]["summary"] == "latest"


def test_get_session_without_reports_has_null_report(client, alice, session_id):
    response = client.get(session_url(session_id), headers=alice)
    assert response.status_code == 200
    assert response.get_json()["report"] is None
    assert response.get_json()["conversations"] == []


def test_get_another_users_session_answers_404(client, bob, session_id):
    response = client.get(session_url(session_id), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


def test_get_owned_session_without_token_answers_404(client, session_id):
    response = client.get(session_url(session_id))
    assert response.status_code == 404
    assert response.get_json()["success"] is False


def test_get_anonymous_session_by_id_alone(client, bob, anonymous_id):
    assert client.get(session_url(anonymous_id)).status_code == 200
    response = client.get(session_url(anonymous_id), headers=bob)
    assert response.status_code == 200
    assert response.get_json()["session"]["userId"] is None


def test_get_without_token_when_anonymous_is_off_answers_401(app, client, anonymous_id):
    app.config["ALLOW_ANONYMOUS_SESSIONS"] = False
    response = client.get(session_url(anonymous_id))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "bad_id", ["short", "x" * 65, "bad$characters-here", "6500000000000000000000aa.."]
)
def test_get_malformed_session_id_answers_404(client, alice, bad_id):
    response = client.get(session_url(bad_id), headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


def test_get_unknown_session_answers_404(client, alice):
    response = client.get(session_url("no-such-session-0001"), headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


# --- list --------------------------------------------------------------------------------


def test_list_sessions_without_token_answers_401(client, anonymous_id):
    response = client.get("/api/sessions")
    assert response.status_code == 401
    assert response.get_json()["error"] == "Missing bearer token"


def test_list_sessions_returns_only_the_callers_newest_first(client, alice, bob):
    first, second = create_session(client, alice), create_session(client, alice)
    create_session(client, bob)
    create_session(client)
    response = client.get("/api/sessions", headers=alice)
    body = response.get_json()
    assert response.status_code == 200
    assert [item["sessionId"] for item in body["items"]] == [second, first]
    assert body["nextCursor"] is None
    assert body["success"] is True


def test_list_sessions_leaves_the_resume_text_out(client, alice):
    create_session(client, alice, resume={"fileName": "cv.pdf", "content": "long text"})
    item = client.get("/api/sessions", headers=alice).get_json()["items"][0]
    assert item["resume"] == {"fileName": "cv.pdf"}


def test_list_sessions_filters_by_status(client, alice):
    ended, running = create_session(client, alice), create_session(client, alice)
    client.put(session_url(ended, "/end"), json={}, headers=alice)
    completed = client.get("/api/sessions?status=completed", headers=alice).get_json()["items"]
    active = client.get("/api/sessions?status=in_progress", headers=alice).get_json()["items"]
    assert [item["sessionId"] for item in completed] == [ended]
    assert [item["sessionId"] for item in active] == [running]


def test_list_sessions_pages_without_gaps_or_duplicates(client, alice):
    created = [create_session(client, alice) for _ in range(7)]
    pages = collect_pages(client, "/api/sessions", alice, limit=3)
    assert len(pages) == 3
    assert [item["sessionId"] for page in pages for item in page] == created[::-1]


@pytest.mark.parametrize(
    "query, errors",
    [
        ("status=paused", {"status": ["Must be one of: in_progress, completed, abandoned."]}),
        (
            "limit=0",
            {"limit": ["Must be greater than or equal to 1 and less than or equal to 100."]},
        ),
        (
            "limit=101",
            {"limit": ["Must be greater than or equal to 1 and less than or equal to 100."]},
        ),
        ("cursor=!!!", {"cursor": ["Invalid cursor"]}),
        ("sort=name", {"sort": ["Unknown field."]}),
    ],
)
def test_list_sessions_with_bad_query_answers_422(client, alice, query, errors):
    response = client.get(f"/api/sessions?{query}", headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == errors


# --- end ---------------------------------------------------------------------------------


def test_end_completes_the_session_with_its_duration(client, alice, session_id):
    start = datetime.fromisoformat(
        client.get(session_url(session_id), headers=alice).get_json()["session"]["startTime"]
    )
    end = start + timedelta(minutes=30, milliseconds=5)
    response = client.put(
        session_url(session_id, "/end"), json={"endTime": iso(end)}, headers=alice
    )
    session = response.get_json()["session"]
    assert response.status_code == 200
    assert session["status"] == "completed"
    assert session["endTime"] == iso(end)
    assert session["duration"] == 30 * 60 * 1000 + 5


def test_end_without_body_ends_now(client, alice, session_id):
    response = client.put(session_url(session_id, "/end"), headers=alice)
    session = response.get_json()["session"]
    assert response.status_code == 200
    assert session["status"] == "completed"
    assert session["endTime"] >= session["startTime"]
    assert session["duration"] >= 0


def test_end_as_abandoned(client, alice, session_id):
    response = client.put(
        session_url(session_id, "/end"), json={"status": "abandoned"}, headers=alice
    )
    assert response.status_code == 200
    assert response.get_json()["session"]["status"] == "abandoned"


def test_end_before_the_start_answers_422(client, alice, session_id):
    response = client.put(
        session_url(session_id, "/end"), json={"endTime": "2000-01-01T00:00:00Z"}, headers=alice
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"endTime": ["endTime must not be before startTime"]}
    assert client.get(session_url(session_id), headers=alice).get_json()["session"]["status"] == (
        "in_progress"
    )


@pytest.mark.parametrize("moment", BEYOND_THE_CALENDAR)
def test_append_with_a_timestamp_beyond_the_calendar_in_utc_answers_422(
    client, alice, session_id, moment
):
    response = append(client, session_id, alice, timestamp=moment)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"timestamp": [OUT_OF_CALENDAR]}
    assert transcript(client, session_id, alice) == []


@pytest.mark.parametrize("moment", BEYOND_THE_CALENDAR)
def test_end_with_an_end_time_beyond_the_calendar_in_utc_answers_422(
    client, alice, session_id, moment
):
    response = client.put(session_url(session_id, "/end"), json={"endTime": moment}, headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"endTime": [OUT_OF_CALENDAR]}
    assert client.get(session_url(session_id), headers=alice).get_json()["session"]["status"] == (
        "in_progress"
    )


def test_times_at_the_calendar_edges_are_answered_in_iso_and_accepted_back(
    client, alice, session_id
):
    early = append(client, session_id, alice, timestamp="0946-06-09T10:30:00-01:30")
    answered = early.get_json()["conversation"]["timestamp"]
    assert answered == "0946-06-09T12:00:00.000Z"
    again = append(client, session_id, alice, timestamp=answered)
    assert again.status_code == 201
    assert again.get_json()["conversation"]["timestamp"] == answered
    last = "9999-12-31T23:59:59.999Z"
    assert append(client, session_id, alice, timestamp=last).status_code == 201
    assert [m["timestamp"] for m in transcript(client, session_id, alice)] == [
        answered,
        answered,
        last,
    ]
    ended = client.put(session_url(session_id, "/end"), json={"endTime": last}, headers=alice)
    assert ended.status_code == 200
    assert ended.get_json()["session"]["endTime"] == last


def test_end_keeps_the_server_statistics(client, alice, session_id):
    question(client, session_id, alice)
    response = client.put(
        session_url(session_id, "/end"),
        json={"statistics": {"questionCount": 9, "totalMessages": 99, "userMessages": 90}},
        headers=alice,
    )
    assert response.status_code == 200
    assert response.get_json()["session"]["statistics"] == {
        "questionCount": 1,
        "totalMessages": 1,
        "userMessages": 0,
        "agentMessages": 1,
    }


@pytest.mark.parametrize("count", [2.5, "9", True, -1])
def test_end_with_client_statistics_that_are_no_count_answers_422(client, alice, session_id, count):
    response = client.put(
        session_url(session_id, "/end"),
        json={"statistics": {"totalMessages": count}},
        headers=alice,
    )
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["statistics"]) == ["totalMessages"]
    assert client.get(session_url(session_id), headers=alice).get_json()["session"]["status"] == (
        "in_progress"
    )


def test_end_again_with_the_same_status_answers_200_unchanged(client, alice, session_id):
    first = client.put(session_url(session_id, "/end"), json={}, headers=alice)
    again = client.put(session_url(session_id, "/end"), json={"status": "completed"}, headers=alice)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()


def test_end_again_with_another_status_answers_409(client, alice, session_id):
    client.put(session_url(session_id, "/end"), json={"status": "abandoned"}, headers=alice)
    response = client.put(
        session_url(session_id, "/end"), json={"status": "completed"}, headers=alice
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == "Session is already abandoned"


@pytest.mark.parametrize(
    "body, errors",
    [
        ({"status": "in_progress"}, {"status": ["Must be one of: completed, abandoned."]}),
        ({"endTime": "soon"}, {"endTime": ["Not a valid datetime."]}),
        (
            {"statistics": {"totalMessages": -1}},
            {"statistics": {"totalMessages": ["Must be greater than or equal to 0."]}},
        ),
        ({"reason": "bored"}, {"reason": ["Unknown field."]}),
    ],
)
def test_end_with_invalid_body_answers_422(client, alice, session_id, body, errors):
    response = client.put(session_url(session_id, "/end"), json=body, headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == errors


def test_end_another_users_session_answers_404(client, alice, bob, session_id):
    response = client.put(session_url(session_id, "/end"), json={}, headers=bob)
    assert response.status_code == 404
    assert client.get(session_url(session_id), headers=alice).get_json()["session"]["status"] == (
        "in_progress"
    )


# --- delete ------------------------------------------------------------------------------


def test_delete_answers_204_and_takes_transcript_and_reports(client, alice, session_id):
    other = create_session(client, alice)
    append(client, session_id, alice)
    append(client, other, alice)
    add_reports(client, session_id, alice, "summary")
    add_reports(client, other, alice, "summary")
    response = client.delete(session_url(session_id), headers=alice)
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(session_url(session_id), headers=alice).status_code == 404
    assert Message.objects(session_id=session_id).count() == 0
    assert Report.objects(session_id=session_id).count() == 0
    assert Message.objects(session_id=other).count() == 1
    assert Report.objects(session_id=other).count() == 1


def test_delete_another_users_session_answers_404(client, alice, bob, session_id):
    response = client.delete(session_url(session_id), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"
    assert client.get(session_url(session_id), headers=alice).status_code == 200


def test_delete_twice_answers_404(client, alice, session_id):
    client.delete(session_url(session_id), headers=alice)
    response = client.delete(session_url(session_id), headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


# --- expiry ------------------------------------------------------------------------------


def backdate(session_id, hours):
    """Pretend the session's last activity was `hours` ago."""
    SessionDocument.objects(session_id=session_id).update_one(
        set__updated_at=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    )
    return SessionDocument.objects.get(session_id=session_id).updated_at


def test_expire_sessions_abandons_idle_sessions(runner, client, alice):
    idle, active = create_session(client, alice), create_session(client, alice)
    last_activity = backdate(idle, hours=3)
    result = runner.invoke(args=["expire-sessions"])
    assert result.exit_code == 0
    assert result.output.strip() == "1 idle sessions marked abandoned"
    session = client.get(session_url(idle), headers=alice).get_json()["session"]
    assert session["status"] == "abandoned"
    assert session["endTime"] == iso(last_activity)
    assert (
        client.get(session_url(active), headers=alice).get_json()["session"]["status"]
        == "in_progress"
    )


def test_expire_sessions_leaves_ended_sessions_alone(runner, client, alice):
    ended = create_session(client, alice)
    client.put(session_url(ended, "/end"), json={}, headers=alice)
    backdate(ended, hours=3)
    result = runner.invoke(args=["expire-sessions"])
    assert result.output.strip() == "0 idle sessions marked abandoned"
    assert (
        client.get(session_url(ended), headers=alice).get_json()["session"]["status"] == "completed"
    )


def test_expire_sessions_honours_the_idle_timeout(app, runner, client, alice):
    app.config["SESSION_IDLE_TIMEOUT"] = 30 * 60
    idle = create_session(client, alice)
    backdate(idle, hours=1)
    result = runner.invoke(args=["expire-sessions"])
    assert result.output.strip() == "1 idle sessions marked abandoned"
    assert (
        client.get(session_url(idle), headers=alice).get_json()["session"]["status"] == "abandoned"
    )
