"""Session blueprint: create, read, list, transcript appends, end, reports, delete, expiry."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import AutoReconnect

from interview_service import db
from interview_service.sessions import service
from interview_service.sessions.models import DIFFICULTIES, INTERVIEW_TYPES, Message, Report
from interview_service.sessions.models import Session as SessionDocument
from interview_service.sessions.schemas import MessageSchema

CONFIG = {
    "role": "Backend Engineer",
    "companyName": "Acme",
    "interviewType": "technical",
    "difficulty": "mid",
    "interactionMode": "text",
}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
# Valid ISO 8601 whose UTC falls outside years 1-9999.
BEYOND_THE_CALENDAR = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]
OUT_OF_CALENDAR = "Not a valid datetime: outside years 0001-9999 in UTC."


def iso(moment):
    """A time as the API writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def url(session_id, suffix=""):
    return f"/api/sessions/{session_id}{suffix}"


def create(client, headers=None, **body):
    """Create a session and return its sessionId."""
    response = client.post("/api/sessions", json={"config": CONFIG, **body}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["sessionId"]


def append(client, session_id, headers=None, role="user", content="Hello", **fields):
    """POST one message; returns the response."""
    body = {"role": role, "content": content, **fields}
    return client.post(url(session_id, "/conversations"), json=body, headers=headers)


def question(client, session_id, headers, content="Tell me about yourself?", **fields):
    """Append an assistant question; returns the response."""
    return append(
        client, session_id, headers, "assistant", content, metadata={"isQuestion": True}, **fields
    )


def statistics(client, session_id, headers):
    return client.get(url(session_id), headers=headers).get_json()["session"]["statistics"]


def transcript(client, session_id, headers):
    return client.get(url(session_id), headers=headers).get_json()["conversations"]


@pytest.fixture
def session_id(client, alice):
    """A session of alice's."""
    return create(client, alice)


@pytest.fixture
def anonymous_id(client):
    """A session created without a token."""
    return create(client)


# --- create ------------------------------------------------------------------------------


def test_create_session_answers_201_with_unguessable_id(client, alice):
    response = client.post(
        "/api/sessions",
        json={"config": CONFIG, "resume": {"fileName": "cv.txt", "content": "Ten years of Go"}},
        headers=alice,
    )
    body = response.get_json()
    session = body["session"]
    assert response.status_code == 201
    assert body["success"] is True
    assert body["sessionId"] == session["sessionId"]
    # token_urlsafe(24): 32 characters of 6 bits.
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", body["sessionId"])
    assert session["userId"] == "alice"
    assert session["config"] == {**CONFIG, "customRole": None, "interviewId": None}
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
    assert create(client, alice) != create(client, alice)


def test_create_keeps_a_client_session_id(client, alice):
    response = client.post(
        "/api/sessions", json={"config": CONFIG, "sessionId": "client-made_id-0001"}, headers=alice
    )
    assert response.status_code == 201
    assert response.get_json()["sessionId"] == "client-made_id-0001"
    assert response.get_json()["session"]["sessionId"] == "client-made_id-0001"


def test_create_same_session_id_again_answers_200_with_the_existing_session(client, alice):
    body = {"config": CONFIG, "sessionId": "retried-create-00001"}
    first = client.post("/api/sessions", json=body, headers=alice)
    second = client.post(
        "/api/sessions", json={**body, "config": {**CONFIG, "role": "Other"}}, headers=alice
    )
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.get_json() == first.get_json()
    assert client.get("/api/sessions", headers=alice).get_json()["items"][0]["config"]["role"] == (
        "Backend Engineer"
    )
    assert len(client.get("/api/sessions", headers=alice).get_json()["items"]) == 1


def test_create_same_session_id_by_another_user_answers_409(client, alice, bob):
    create(client, alice, sessionId="taken-session-id-001")
    response = client.post(
        "/api/sessions", json={"config": CONFIG, "sessionId": "taken-session-id-001"}, headers=bob
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == "sessionId is already in use"
    assert client.get("/api/sessions", headers=bob).get_json()["items"] == []


def test_create_same_anonymous_session_id_with_a_token_answers_409(client, alice):
    create(client, sessionId="Jq2Zk3X9vB0mW7tL5rN8pQ")
    response = client.post(
        "/api/sessions",
        json={"config": CONFIG, "sessionId": "Jq2Zk3X9vB0mW7tL5rN8pQ"},
        headers=alice,
    )
    assert response.status_code == 409
    assert response.get_json()["success"] is False


def test_create_same_anonymous_session_id_anonymously_answers_200(client):
    body = {"config": CONFIG, "sessionId": "9f86d081884c7d659a2feaa0c55ad015"}
    client.post("/api/sessions", json=body)
    response = client.post("/api/sessions", json=body)
    assert response.status_code == 200
    assert response.get_json()["session"]["userId"] is None


def test_create_without_token_makes_an_anonymous_session(client):
    response = client.post("/api/sessions", json={"config": CONFIG})
    assert response.status_code == 201
    assert response.get_json()["session"]["userId"] is None


def test_create_without_token_when_anonymous_is_off_answers_401(app, client):
    app.config["ALLOW_ANONYMOUS_SESSIONS"] = False
    response = client.post("/api/sessions", json={"config": CONFIG})
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
    response = client.post(
        "/api/sessions", json={"config": CONFIG}, headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401
    assert response.get_json()["error"].startswith("Invalid token")


def test_create_accepts_every_interview_type_and_difficulty(client, alice):
    for interview_type in INTERVIEW_TYPES:
        for difficulty in DIFFICULTIES:
            config = {**CONFIG, "interviewType": interview_type, "difficulty": difficulty}
            response = client.post("/api/sessions", json={"config": config}, headers=alice)
            assert response.status_code == 201
            assert response.get_json()["session"]["config"]["difficulty"] == difficulty
    assert SessionDocument.objects.count() == len(INTERVIEW_TYPES) * len(DIFFICULTIES)


@pytest.mark.parametrize(
    "body, errors",
    [
        ({}, {"config": ["Missing data for required field."]}),
        (
            {"config": {**CONFIG, "interviewType": "poetry"}},
            {"config": {"interviewType": ["Must be one of: " + ", ".join(INTERVIEW_TYPES) + "."]}},
        ),
        (
            {"config": {**CONFIG, "difficulty": "impossible"}},
            {"config": {"difficulty": ["Must be one of: " + ", ".join(DIFFICULTIES) + "."]}},
        ),
        (
            {"config": {**CONFIG, "interactionMode": "telepathy"}},
            {"config": {"interactionMode": ["Must be one of: speech, text."]}},
        ),
        (
            {"config": {key: CONFIG[key] for key in ("interviewType", "difficulty")}},
            {"config": {"role": ["Missing data for required field."]}},
        ),
        (
            {"config": CONFIG, "sessionId": "short"},
            {"sessionId": ["Must be 16-64 of A-Z a-z 0-9 _ -."]},
        ),
        (
            {"config": CONFIG, "sessionId": "has spaces in it !!"},
            {"sessionId": ["Must be 16-64 of A-Z a-z 0-9 _ -."]},
        ),
        ({"config": CONFIG, "owner": "bob"}, {"owner": ["Unknown field."]}),
        ({"config": {**CONFIG, "level": 3}}, {"config": {"level": ["Unknown field."]}}),
        (
            {"config": CONFIG, "resume": {"content": "x", "pages": 2}},
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


def test_create_with_resume_over_the_limit_answers_422(app, client, alice):
    app.config["RESUME_MAX_CHARS"] = 10
    response = client.post(
        "/api/sessions", json={"config": CONFIG, "resume": {"content": "x" * 11}}, headers=alice
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"resume": {"content": ["Longer than 10 characters."]}}
    assert SessionDocument.objects.count() == 0


def test_create_with_resume_at_the_limit_answers_201(app, client, alice):
    app.config["RESUME_MAX_CHARS"] = 10
    response = client.post(
        "/api/sessions", json={"config": CONFIG, "resume": {"content": "x" * 10}}, headers=alice
    )
    assert response.status_code == 201
    assert response.get_json()["session"]["resume"]["content"] == "x" * 10


# --- read --------------------------------------------------------------------------------


def test_get_session_returns_session_transcript_and_latest_report(client, alice, session_id):
    question(client, session_id, alice)
    append(client, session_id, alice, content="I build APIs")
    client.post(
        url(session_id, "/reports"), json={"reportType": "summary", "content": {}}, headers=alice
    )
    client.post(
        url(session_id, "/reports"),
        json={"reportType": "feedback", "content": {"summary": "latest"}},
        headers=alice,
    )
    response = client.get(url(session_id), headers=alice)
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
    response = client.get(url(session_id), headers=alice)
    assert response.status_code == 200
    assert response.get_json()["report"] is None
    assert response.get_json()["conversations"] == []


def test_get_another_users_session_answers_404(client, bob, session_id):
    response = client.get(url(session_id), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


def test_get_owned_session_without_token_answers_404(client, session_id):
    response = client.get(url(session_id))
    assert response.status_code == 404
    assert response.get_json()["success"] is False


def test_get_anonymous_session_by_id_alone(client, bob, anonymous_id):
    assert client.get(url(anonymous_id)).status_code == 200
    response = client.get(url(anonymous_id), headers=bob)
    assert response.status_code == 200
    assert response.get_json()["session"]["userId"] is None


def test_get_without_token_when_anonymous_is_off_answers_401(app, client, anonymous_id):
    app.config["ALLOW_ANONYMOUS_SESSIONS"] = False
    response = client.get(url(anonymous_id))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "bad_id", ["short", "x" * 65, "bad$characters-here", "6500000000000000000000aa.."]
)
def test_get_malformed_session_id_answers_404(client, alice, bad_id):
    response = client.get(url(bad_id), headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


def test_get_unknown_session_answers_404(client, alice):
    response = client.get(url("no-such-session-0001"), headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


# --- list --------------------------------------------------------------------------------


def test_list_sessions_without_token_answers_401(client, anonymous_id):
    response = client.get("/api/sessions")
    assert response.status_code == 401
    assert response.get_json()["error"] == "Missing bearer token"


def test_list_sessions_returns_only_the_callers_newest_first(client, alice, bob):
    first, second = create(client, alice), create(client, alice)
    create(client, bob)
    create(client)
    response = client.get("/api/sessions", headers=alice)
    body = response.get_json()
    assert response.status_code == 200
    assert [item["sessionId"] for item in body["items"]] == [second, first]
    assert body["nextCursor"] is None
    assert body["success"] is True


def test_list_sessions_leaves_the_resume_text_out(client, alice):
    create(client, alice, resume={"fileName": "cv.pdf", "content": "long text"})
    item = client.get("/api/sessions", headers=alice).get_json()["items"][0]
    assert item["resume"] == {"fileName": "cv.pdf"}


def test_list_sessions_filters_by_status(client, alice):
    ended, running = create(client, alice), create(client, alice)
    client.put(url(ended, "/end"), json={}, headers=alice)
    completed = client.get("/api/sessions?status=completed", headers=alice).get_json()["items"]
    active = client.get("/api/sessions?status=in_progress", headers=alice).get_json()["items"]
    assert [item["sessionId"] for item in completed] == [ended]
    assert [item["sessionId"] for item in active] == [running]


def test_list_sessions_pages_without_gaps_or_duplicates(client, alice):
    created = [create(client, alice) for _ in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        query = "/api/sessions?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(query, headers=alice).get_json()
        seen += [item["sessionId"] for item in body["items"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == created[::-1]


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


# --- append ------------------------------------------------------------------------------


def test_append_message_answers_201_with_its_index(client, alice, session_id):
    response = append(
        client,
        session_id,
        alice,
        content="Hi, I am Ada",
        timestamp="2030-01-01T14:00:00.250+02:00",
        metadata={"speakingDuration": 2.5},
    )
    body = response.get_json()
    assert response.status_code == 201
    assert body["success"] is True
    assert body["messageIndex"] == 0
    conversation = body["conversation"]
    assert conversation["sessionId"] == session_id
    assert conversation["role"] == "user"
    assert conversation["content"] == "Hi, I am Ada"
    assert conversation["timestamp"] == "2030-01-01T12:00:00.250Z"
    assert conversation["metadata"] == {"isQuestion": None, "speakingDuration": 2.5}
    assert conversation["messageIndex"] == 0
    assert ISO_Z.match(conversation["createdAt"])


def test_append_without_timestamp_uses_the_server_time(client, alice, session_id):
    before = datetime.now(UTC) - timedelta(seconds=1)
    stamp = append(client, session_id, alice).get_json()["conversation"]["timestamp"]
    moment = datetime.fromisoformat(stamp)
    assert before <= moment <= datetime.now(UTC)


def test_append_assigns_consecutive_indexes(client, alice, session_id):
    indexes = [append(client, session_id, alice).get_json()["messageIndex"] for _ in range(4)]
    assert indexes == [0, 1, 2, 3]


def test_append_updates_statistics_and_updated_at(client, alice, session_id):
    created = client.get(url(session_id), headers=alice).get_json()["session"]["updatedAt"]
    question(client, session_id, alice)
    append(client, session_id, alice)
    append(client, session_id, alice, role="assistant", content="Thanks.")
    append(
        client, session_id, alice, role="user", content="Q?", metadata={"isQuestion": True}
    )  # a user's question is not an interview question
    session = client.get(url(session_id), headers=alice).get_json()["session"]
    assert session["statistics"] == {
        "questionCount": 1,
        "totalMessages": 4,
        "userMessages": 2,
        "agentMessages": 2,
    }
    assert session["updatedAt"] >= created


def test_append_batch_reserves_consecutive_indexes(client, alice, session_id):
    append(client, session_id, alice)
    response = client.post(
        url(session_id, "/conversations"),
        json={
            "messages": [
                {"role": "assistant", "content": "Q1?", "metadata": {"isQuestion": True}},
                {"role": "user", "content": "A1"},
                {"role": "assistant", "content": "Q2?", "metadata": {"isQuestion": True}},
            ]
        },
        headers=alice,
    )
    body = response.get_json()
    assert response.status_code == 201
    assert body["messageIndexes"] == [1, 2, 3]
    assert [c["content"] for c in body["conversations"]] == ["Q1?", "A1", "Q2?"]
    assert statistics(client, session_id, alice) == {
        "questionCount": 2,
        "totalMessages": 4,
        "userMessages": 2,
        "agentMessages": 2,
    }


def test_append_same_client_message_id_returns_the_first_answer(client, alice, session_id):
    first = question(client, session_id, alice, clientMessageId="msg-1")
    append(client, session_id, alice)
    retry = question(client, session_id, alice, clientMessageId="msg-1")
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.get_json()["messageIndex"] == 0
    assert len(transcript(client, session_id, alice)) == 2
    assert statistics(client, session_id, alice)["totalMessages"] == 2
    assert statistics(client, session_id, alice)["questionCount"] == 1


def test_append_same_idempotency_key_returns_the_first_answer(client, alice, session_id):
    headers = {**alice, "Idempotency-Key": "key-0001"}
    first = append(client, session_id, headers, content="once")
    retry = append(client, session_id, headers, content="once")
    assert retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert first.get_json()["conversation"]["clientMessageId"] == "key-0001"
    assert len(transcript(client, session_id, alice)) == 1
    assert statistics(client, session_id, alice)["userMessages"] == 1


def test_append_with_header_and_body_ids_that_differ_answers_422(client, alice, session_id):
    headers = {**alice, "Idempotency-Key": "key-0001"}
    response = append(client, session_id, headers, clientMessageId="other")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "clientMessageId": ["clientMessageId and the Idempotency-Key header differ"]
    }
    assert transcript(client, session_id, alice) == []


def test_append_with_an_overlong_idempotency_key_answers_422(client, alice, session_id):
    response = append(client, session_id, {**alice, "Idempotency-Key": "k" * 129})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "Idempotency-Key": ["Length must be between 1 and 128."]
    }
    assert transcript(client, session_id, alice) == []


def test_client_message_ids_are_scoped_to_their_session(client, alice):
    first, second = create(client, alice), create(client, alice)
    one = append(client, first, alice, clientMessageId="same-id")
    two = append(client, second, alice, clientMessageId="same-id")
    assert one.status_code == two.status_code == 201
    assert one.get_json()["conversation"]["sessionId"] == first
    assert two.get_json()["conversation"]["sessionId"] == second
    assert two.get_json()["messageIndex"] == 0


def test_append_batch_retry_returns_the_same_messages(client, alice, session_id):
    batch = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    headers = {**alice, "Idempotency-Key": "batch-1"}
    first = client.post(url(session_id, "/conversations"), json=batch, headers=headers)
    retry = client.post(url(session_id, "/conversations"), json=batch, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert first.get_json()["messageIndexes"] == [0, 1]
    assert [c["clientMessageId"] for c in first.get_json()["conversations"]] == [
        "batch-1:0",
        "batch-1:1",
    ]
    assert statistics(client, session_id, alice)["totalMessages"] == 2


def test_append_batch_reusing_a_stored_id_with_new_messages_answers_409(client, alice, session_id):
    append(client, session_id, alice, clientMessageId="m-1")
    response = client.post(
        url(session_id, "/conversations"),
        json={
            "messages": [
                {"role": "user", "content": "a", "clientMessageId": "m-1"},
                {"role": "user", "content": "b", "clientMessageId": "m-2"},
            ]
        },
        headers=alice,
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == (
        "Some of these clientMessageIds are already stored with other messages"
    )
    assert len(transcript(client, session_id, alice)) == 1


def test_append_batch_with_repeated_client_ids_answers_422(client, alice, session_id):
    response = client.post(
        url(session_id, "/conversations"),
        json={
            "messages": [
                {"role": "user", "content": "a", "clientMessageId": "dup"},
                {"role": "user", "content": "b", "clientMessageId": "dup"},
            ]
        },
        headers=alice,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "messages": ["clientMessageId must be unique within a batch"]
    }
    assert transcript(client, session_id, alice) == []


@pytest.mark.parametrize(
    "body, errors",
    [
        ({"role": "moderator", "content": "x"}, {"role": ["Must be one of: user, assistant."]}),
        ({"role": "user"}, {"content": ["Missing data for required field."]}),
        ({"content": "x"}, {"role": ["Missing data for required field."]}),
        ({"role": "user", "content": ""}, {"content": ["Shorter than minimum length 1."]}),
        ({"role": "user", "content": "x", "mood": "ok"}, {"mood": ["Unknown field."]}),
        (
            {"role": "user", "content": "x", "metadata": {"isQuestion": "maybe"}},
            {"metadata": {"isQuestion": ["Not a valid boolean."]}},
        ),
        (
            {"role": "user", "content": "x", "metadata": {"speakingDuration": -1}},
            {"metadata": {"speakingDuration": ["Must be greater than or equal to 0."]}},
        ),
        (
            {"role": "user", "content": "x", "timestamp": "yesterday"},
            {"timestamp": ["Not a valid datetime."]},
        ),
        (
            {"role": "user", "content": "x", "clientMessageId": ""},
            {"clientMessageId": ["Length must be between 1 and 128."]},
        ),
        (
            {"role": "user", "content": "x", "messages": [{"role": "user", "content": "y"}]},
            {"messages": ["Send one message or `messages`, not both."]},
        ),
        ({"messages": []}, {"messages": ["Length must be between 1 and 100."]}),
        (
            {"messages": [{"role": "user", "content": "y"}] * 101},
            {"messages": ["Length must be between 1 and 100."]},
        ),
        (
            {"messages": [{"role": "user"}]},
            {"messages": {"0": {"content": ["Missing data for required field."]}}},
        ),
    ],
)
def test_append_invalid_message_answers_422(client, alice, session_id, body, errors):
    response = client.post(url(session_id, "/conversations"), json=body, headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == errors
    assert transcript(client, session_id, alice) == []


def test_append_content_over_the_limit_answers_422(app, client, alice, session_id):
    app.config["MESSAGE_MAX_CHARS"] = 5
    response = append(client, session_id, alice, content="toolong")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"content": ["Longer than 5 characters."]}
    assert append(client, session_id, alice, content="fits!").status_code == 201
    assert len(transcript(client, session_id, alice)) == 1


def test_append_retry_after_a_request_died_mid_append_stores_the_message(
    client, alice, session_id, monkeypatch
):
    monkeypatch.setattr(service, "CLAIM_WAIT_SECONDS", 0.05)
    # What a request that died between reserving index 0 and inserting leaves behind.
    SessionDocument.objects(session_id=session_id).update_one(
        push__claimed_message_ids="lost-1",
        inc__next_message_index=1,
        inc__statistics__total_messages=1,
        inc__statistics__user_messages=1,
    )
    response = append(client, session_id, alice, clientMessageId="lost-1")
    assert response.status_code == 201
    assert response.get_json()["messageIndex"] == 1  # index 0 is the documented gap
    assert [m["clientMessageId"] for m in transcript(client, session_id, alice)] == ["lost-1"]


def test_append_whose_insert_fails_answers_503_and_gives_its_indexes_back(
    client, alice, session_id, monkeypatch
):
    question(client, session_id, alice)

    def unreachable(*args, **kwargs):
        raise AutoReconnect("connection closed")

    with monkeypatch.context() as patch:
        patch.setattr(type(Message.objects), "insert", unreachable)
        failed = append(client, session_id, alice, clientMessageId="answer-1")
    assert failed.status_code == 503
    retried = append(client, session_id, alice, clientMessageId="answer-1")
    assert retried.status_code == 201
    assert retried.get_json()["messageIndex"] == 1
    statistics = client.get(url(session_id), headers=alice).get_json()["session"]["statistics"]
    assert (statistics["totalMessages"], statistics["userMessages"]) == (2, 1)


def test_raw_messages_serialize_exactly_like_documents(client, alice, session_id):
    # session_detail reads the transcript raw (as_pymongo) on its hot path.
    question(client, session_id, alice)
    append(client, session_id, alice, clientMessageId="a-1", metadata={"speakingDuration": 2.5})
    append(client, session_id, alice)
    documents = Message.objects(session_id=session_id).order_by("message_index")
    raw = documents.as_pymongo()
    assert MessageSchema(many=True).dump([db.attributes_of(Message, r) for r in raw]) == (
        MessageSchema(many=True).dump(documents)
    )


def test_end_without_a_body_completes_the_session_and_is_documented_so(client, alice, session_id):
    response = client.put(url(session_id, "/end"), headers=alice)
    assert response.status_code == 200
    assert response.get_json()["session"]["status"] == "completed"
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/sessions/{session_id}/end"]["put"]
    assert operation["requestBody"].get("required", False) is False


def test_append_to_an_ended_session_answers_409(client, alice, session_id):
    client.put(url(session_id, "/end"), json={}, headers=alice)
    response = append(client, session_id, alice)
    assert response.status_code == 409
    assert response.get_json()["error"] == "Session is completed: no more messages can be added"
    assert transcript(client, session_id, alice) == []
    assert statistics(client, session_id, alice)["totalMessages"] == 0


def test_append_retry_after_the_end_still_returns_the_first_answer(client, alice, session_id):
    first = append(client, session_id, alice, clientMessageId="last-words")
    client.put(url(session_id, "/end"), json={}, headers=alice)
    retry = append(client, session_id, alice, clientMessageId="last-words")
    assert retry.status_code == 201
    assert retry.get_json() == first.get_json()


def test_append_to_another_users_session_answers_404(client, bob, alice, session_id):
    response = append(client, session_id, bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"
    assert transcript(client, session_id, alice) == []


def test_append_anonymously_to_an_owned_session_answers_404(client, alice, session_id):
    response = append(client, session_id)
    assert response.status_code == 404
    assert transcript(client, session_id, alice) == []


def test_append_anonymously_to_an_anonymous_session_answers_201(client, anonymous_id):
    response = append(client, anonymous_id)
    assert response.status_code == 201
    assert response.get_json()["messageIndex"] == 0


def test_append_to_a_malformed_session_id_answers_404(client, alice):
    response = append(client, "bad id", alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


# --- transcript pages --------------------------------------------------------------------


def test_transcript_pages_in_order_without_gaps_or_duplicates(client, alice, session_id):
    for number in range(7):
        append(client, session_id, alice, content=f"m{number}")
    seen, cursor = [], None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url(session_id, f"/conversations{query}"), headers=alice).get_json()
        seen += [item["messageIndex"] for item in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == list(range(7))


def test_transcript_after_an_index_returns_the_later_messages(client, alice, session_id):
    for number in range(5):
        append(client, session_id, alice, content=f"m{number}")
    response = client.get(url(session_id, "/conversations?after=2"), headers=alice)
    body = response.get_json()
    assert response.status_code == 200
    assert [item["content"] for item in body["items"]] == ["m3", "m4"]
    assert body["nextCursor"] is None


@pytest.mark.parametrize(
    "query, errors",
    [
        ("after=-1", {"after": ["Must be greater than or equal to 0."]}),
        ("after=two", {"after": ["Not a valid integer."]}),
        ("cursor=nonsense", {"cursor": ["Invalid cursor"]}),
        ("before=3", {"before": ["Unknown field."]}),
    ],
)
def test_transcript_with_bad_query_answers_422(client, alice, session_id, query, errors):
    response = client.get(url(session_id, f"/conversations?{query}"), headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == errors


def test_transcript_of_another_users_session_answers_404(client, alice, bob, session_id):
    append(client, session_id, alice)
    response = client.get(url(session_id, "/conversations"), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


# --- end ---------------------------------------------------------------------------------


def test_end_completes_the_session_with_its_duration(client, alice, session_id):
    start = datetime.fromisoformat(
        client.get(url(session_id), headers=alice).get_json()["session"]["startTime"]
    )
    end = start + timedelta(minutes=30, milliseconds=5)
    response = client.put(url(session_id, "/end"), json={"endTime": iso(end)}, headers=alice)
    session = response.get_json()["session"]
    assert response.status_code == 200
    assert session["status"] == "completed"
    assert session["endTime"] == iso(end)
    assert session["duration"] == 30 * 60 * 1000 + 5


def test_end_without_body_ends_now(client, alice, session_id):
    response = client.put(url(session_id, "/end"), headers=alice)
    session = response.get_json()["session"]
    assert response.status_code == 200
    assert session["status"] == "completed"
    assert session["endTime"] >= session["startTime"]
    assert session["duration"] >= 0


def test_end_as_abandoned(client, alice, session_id):
    response = client.put(url(session_id, "/end"), json={"status": "abandoned"}, headers=alice)
    assert response.status_code == 200
    assert response.get_json()["session"]["status"] == "abandoned"


def test_end_before_the_start_answers_422(client, alice, session_id):
    response = client.put(
        url(session_id, "/end"), json={"endTime": "2000-01-01T00:00:00Z"}, headers=alice
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"endTime": ["endTime must not be before startTime"]}
    assert client.get(url(session_id), headers=alice).get_json()["session"]["status"] == (
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
    response = client.put(url(session_id, "/end"), json={"endTime": moment}, headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"endTime": [OUT_OF_CALENDAR]}
    assert client.get(url(session_id), headers=alice).get_json()["session"]["status"] == (
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
    ended = client.put(url(session_id, "/end"), json={"endTime": last}, headers=alice)
    assert ended.status_code == 200
    assert ended.get_json()["session"]["endTime"] == last


def test_end_keeps_the_server_statistics(client, alice, session_id):
    question(client, session_id, alice)
    response = client.put(
        url(session_id, "/end"),
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


def test_end_again_with_the_same_status_answers_200_unchanged(client, alice, session_id):
    first = client.put(url(session_id, "/end"), json={}, headers=alice)
    again = client.put(url(session_id, "/end"), json={"status": "completed"}, headers=alice)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()


def test_end_again_with_another_status_answers_409(client, alice, session_id):
    client.put(url(session_id, "/end"), json={"status": "abandoned"}, headers=alice)
    response = client.put(url(session_id, "/end"), json={"status": "completed"}, headers=alice)
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
    response = client.put(url(session_id, "/end"), json=body, headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == errors


def test_end_another_users_session_answers_404(client, alice, bob, session_id):
    response = client.put(url(session_id, "/end"), json={}, headers=bob)
    assert response.status_code == 404
    assert client.get(url(session_id), headers=alice).get_json()["session"]["status"] == (
        "in_progress"
    )


# --- reports -----------------------------------------------------------------------------

REPORT = {
    "summary": "Solid fundamentals.",
    "strengths": ["clear answers"],
    "weaknesses": ["rushed"],
    "recommendations": ["practice system design"],
    "scores": {"overall": 78, "communication": 82.5, "technical": 70, "behavior": 90},
    "statistics": {"totalDuration": 1800000, "questionCount": 12, "averageResponseTime": 4200.5},
}


def test_add_report_answers_201(client, alice, session_id):
    response = client.post(
        url(session_id, "/reports"),
        json={"reportType": "detailed", "content": REPORT},
        headers=alice,
    )
    report = response.get_json()["report"]
    assert response.status_code == 201
    assert response.get_json()["success"] is True
    assert report["sessionId"] == session_id
    assert report["reportType"] == "detailed"
    assert report["status"] == "ready"
    # Posted content as sent; evidence and per-question feedback come only with generation.
    assert report["content"] == {**REPORT, "evidence": None, "questions": []}
    assert ISO_Z.match(report["generatedAt"]) and ISO_Z.match(report["createdAt"])


def test_add_report_computes_missing_statistics_from_the_transcript(client, alice, session_id):
    def at(seconds):
        return iso(datetime.fromisoformat(start) + timedelta(seconds=seconds))

    start = client.get(url(session_id), headers=alice).get_json()["session"]["startTime"]
    question(client, session_id, alice, timestamp=at(1))
    append(client, session_id, alice, timestamp=at(5))  # answered after 4 s
    append(client, session_id, alice, "assistant", "Good.", timestamp=at(6))
    question(client, session_id, alice, timestamp=at(10))
    append(client, session_id, alice, timestamp=at(16))  # answered after 6 s
    question(client, session_id, alice, timestamp=at(20))  # never answered
    client.put(url(session_id, "/end"), json={"endTime": at(60)}, headers=alice)
    response = client.post(
        url(session_id, "/reports"),
        json={"reportType": "summary", "content": {"summary": "ok"}},
        headers=alice,
    )
    assert response.status_code == 201
    assert response.get_json()["report"]["content"]["statistics"] == {
        "totalDuration": 60000,
        "questionCount": 3,
        "averageResponseTime": 5000.0,
    }


def test_report_statistics_of_a_running_session_span_the_transcript(client, alice, session_id):
    append(client, session_id, alice, timestamp=iso(T0))
    append(client, session_id, alice, timestamp=iso(T0 + timedelta(seconds=90)))
    response = client.post(
        url(session_id, "/reports"), json={"reportType": "feedback", "content": {}}, headers=alice
    )
    assert response.get_json()["report"]["content"]["statistics"] == {
        "totalDuration": 90000,
        "questionCount": 0,
        "averageResponseTime": None,
    }


@pytest.mark.parametrize(
    "body, errors",
    [
        ({"content": {}}, {"reportType": ["Missing data for required field."]}),
        (
            {"reportType": "essay", "content": {}},
            {"reportType": ["Must be one of: summary, detailed, feedback."]},
        ),
        ({"reportType": "summary"}, {"content": ["Missing data for required field."]}),
        (
            {"reportType": "summary", "content": {"scores": {"overall": 101}}},
            {
                "content": {
                    "scores": {
                        "overall": [
                            "Must be greater than or equal to 0 and less than or equal to 100."
                        ]
                    }
                }
            },
        ),
        (
            {"reportType": "summary", "content": {"scores": {"technical": -1}}},
            {
                "content": {
                    "scores": {
                        "technical": [
                            "Must be greater than or equal to 0 and less than or equal to 100."
                        ]
                    }
                }
            },
        ),
        (
            {"reportType": "summary", "content": {"grade": "A"}},
            {"content": {"grade": ["Unknown field."]}},
        ),
        (
            {"reportType": "summary", "content": {"strengths": "all"}},
            {"content": {"strengths": ["Not a valid list."]}},
        ),
    ],
)
def test_add_invalid_report_answers_422(client, alice, session_id, body, errors):
    response = client.post(url(session_id, "/reports"), json=body, headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == errors
    assert Report.objects.count() == 0


def test_add_report_to_another_users_session_answers_404(client, bob, session_id):
    response = client.post(
        url(session_id, "/reports"), json={"reportType": "summary", "content": {}}, headers=bob
    )
    assert response.status_code == 404
    assert Report.objects.count() == 0


def add_reports(client, session_id, headers, *types):
    """Add one report per type, in order; return their ids."""
    return [
        client.post(
            url(session_id, "/reports"), json={"reportType": kind, "content": {}}, headers=headers
        ).get_json()["report"]["id"]
        for kind in types
    ]


def test_latest_report_is_the_newest(client, alice, session_id):
    ids = add_reports(client, session_id, alice, "summary", "detailed", "summary")
    response = client.get(url(session_id, "/report"), headers=alice)
    assert response.status_code == 200
    assert response.get_json()["report"]["id"] == ids[2]


def test_latest_report_of_a_type(client, alice, session_id):
    ids = add_reports(client, session_id, alice, "detailed", "summary", "feedback")
    response = client.get(url(session_id, "/report?reportType=detailed"), headers=alice)
    assert response.status_code == 200
    assert response.get_json()["report"]["id"] == ids[0]


def test_latest_report_when_there_is_none_answers_404(client, alice, session_id):
    response = client.get(url(session_id, "/report"), headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Report not found"


def test_latest_report_of_a_missing_type_answers_404(client, alice, session_id):
    add_reports(client, session_id, alice, "summary")
    response = client.get(url(session_id, "/report?reportType=feedback"), headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Report not found"


def test_latest_report_with_a_bad_type_answers_422(client, alice, session_id):
    response = client.get(url(session_id, "/report?reportType=essay"), headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "reportType": ["Must be one of: summary, detailed, feedback."]
    }


def test_latest_report_of_another_users_session_answers_404(client, alice, bob, session_id):
    add_reports(client, session_id, alice, "summary")
    response = client.get(url(session_id, "/report"), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


def test_list_reports_newest_first(client, alice, session_id):
    ids = add_reports(client, session_id, alice, "summary", "detailed", "feedback")
    response = client.get(url(session_id, "/reports"), headers=alice)
    assert response.status_code == 200
    assert [report["id"] for report in response.get_json()["items"]] == ids[::-1]


def test_list_reports_of_another_users_session_answers_404(client, alice, bob, session_id):
    add_reports(client, session_id, alice, "summary")
    response = client.get(url(session_id, "/reports"), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


# --- delete ------------------------------------------------------------------------------


def test_delete_answers_204_and_takes_transcript_and_reports(client, alice, session_id):
    other = create(client, alice)
    append(client, session_id, alice)
    append(client, other, alice)
    add_reports(client, session_id, alice, "summary")
    add_reports(client, other, alice, "summary")
    response = client.delete(url(session_id), headers=alice)
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(url(session_id), headers=alice).status_code == 404
    assert Message.objects(session_id=session_id).count() == 0
    assert Report.objects(session_id=session_id).count() == 0
    assert Message.objects(session_id=other).count() == 1
    assert Report.objects(session_id=other).count() == 1


def test_delete_another_users_session_answers_404(client, alice, bob, session_id):
    response = client.delete(url(session_id), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"
    assert client.get(url(session_id), headers=alice).status_code == 200


def test_delete_twice_answers_404(client, alice, session_id):
    client.delete(url(session_id), headers=alice)
    response = client.delete(url(session_id), headers=alice)
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
    idle, active = create(client, alice), create(client, alice)
    last_activity = backdate(idle, hours=3)
    result = runner.invoke(args=["expire-sessions"])
    assert result.exit_code == 0
    assert result.output.strip() == "1 idle sessions marked abandoned"
    session = client.get(url(idle), headers=alice).get_json()["session"]
    assert session["status"] == "abandoned"
    assert session["endTime"] == iso(last_activity)
    assert client.get(url(active), headers=alice).get_json()["session"]["status"] == "in_progress"


def test_expire_sessions_leaves_ended_sessions_alone(runner, client, alice):
    ended = create(client, alice)
    client.put(url(ended, "/end"), json={}, headers=alice)
    backdate(ended, hours=3)
    result = runner.invoke(args=["expire-sessions"])
    assert result.output.strip() == "0 idle sessions marked abandoned"
    assert client.get(url(ended), headers=alice).get_json()["session"]["status"] == "completed"


def test_expire_sessions_honours_the_idle_timeout(app, runner, client, alice):
    app.config["SESSION_IDLE_TIMEOUT"] = 30 * 60
    idle = create(client, alice)
    backdate(idle, hours=1)
    result = runner.invoke(args=["expire-sessions"])
    assert result.output.strip() == "1 idle sessions marked abandoned"
    assert client.get(url(idle), headers=alice).get_json()["session"]["status"] == "abandoned"
