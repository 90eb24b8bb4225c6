"""The transcript: appends (single, batch, idempotent) and its pages."""

from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import AutoReconnect

from interview_service import db
from interview_service.sessions import service
from interview_service.sessions.models import Message
from interview_service.sessions.models import Session as SessionDocument
from interview_service.sessions.schemas import MessageSchema
from tests.factories import (
    ISO_Z,
    append,
    append_batch,
    collect_pages,
    create_session,
    question,
    session_url,
    statistics,
    transcript,
    user_messages,
)

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


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
    created = client.get(session_url(session_id), headers=alice).get_json()["session"]["updatedAt"]
    question(client, session_id, alice)
    append(client, session_id, alice)
    append(client, session_id, alice, role="assistant", content="Thanks.")
    append(
        client, session_id, alice, role="user", content="Q?", metadata={"isQuestion": True}
    )  # a user's question is not an interview question
    session = client.get(session_url(session_id), headers=alice).get_json()["session"]
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
        session_url(session_id, "/conversations"),
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
    first, second = create_session(client, alice), create_session(client, alice)
    one = append(client, first, alice, clientMessageId="same-id")
    two = append(client, second, alice, clientMessageId="same-id")
    assert one.status_code == two.status_code == 201
    assert one.get_json()["conversation"]["sessionId"] == first
    assert two.get_json()["conversation"]["sessionId"] == second
    assert two.get_json()["messageIndex"] == 0


def test_append_batch_retry_returns_the_same_messages(client, alice, session_id):
    batch = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    headers = {**alice, "Idempotency-Key": "batch-1"}
    first = client.post(session_url(session_id, "/conversations"), json=batch, headers=headers)
    retry = client.post(session_url(session_id, "/conversations"), json=batch, headers=headers)
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
    response = append_batch(client, session_id, alice, user_messages("m-1", "m-2"))
    assert response.status_code == 409
    assert response.get_json()["error"] == (
        "Some of these clientMessageIds are already stored with other messages"
    )
    assert len(transcript(client, session_id, alice)) == 1


def test_append_batch_with_repeated_client_ids_answers_422(client, alice, session_id):
    response = append_batch(client, session_id, alice, user_messages("dup", "dup"))
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
    response = client.post(session_url(session_id, "/conversations"), json=body, headers=alice)
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
    counts = statistics(client, session_id, alice)
    assert (counts["totalMessages"], counts["userMessages"]) == (2, 1)


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
    response = client.put(session_url(session_id, "/end"), headers=alice)
    assert response.status_code == 200
    assert response.get_json()["session"]["status"] == "completed"
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/sessions/{session_id}/end"]["put"]
    assert operation["requestBody"].get("required", False) is False


def test_append_to_an_ended_session_answers_409(client, alice, session_id):
    client.put(session_url(session_id, "/end"), json={}, headers=alice)
    response = append(client, session_id, alice)
    assert response.status_code == 409
    assert response.get_json()["error"] == "Session is completed: no more messages can be added"
    assert transcript(client, session_id, alice) == []
    assert statistics(client, session_id, alice)["totalMessages"] == 0


def test_append_retry_after_the_end_still_returns_the_first_answer(client, alice, session_id):
    first = append(client, session_id, alice, clientMessageId="last-words")
    client.put(session_url(session_id, "/end"), json={}, headers=alice)
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
    pages = collect_pages(client, session_url(session_id, "/conversations"), alice, limit=3)
    assert [item["messageIndex"] for page in pages for item in page] == list(range(7))


def test_transcript_after_an_index_returns_the_later_messages(client, alice, session_id):
    for number in range(5):
        append(client, session_id, alice, content=f"m{number}")
    response = client.get(session_url(session_id, "/conversations?after=2"), headers=alice)
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
    response = client.get(session_url(session_id, f"/conversations?{query}"), headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == errors


def test_transcript_of_another_users_session_answers_404(client, alice, bob, session_id):
    append(client, session_id, alice)
    response = client.get(session_url(session_id, "/conversations"), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"
