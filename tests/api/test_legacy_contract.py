"""The existing clients' reads, from their side: the dashboard, the analytics page, the feedback
saver and the voice-agent SPA work with nothing changed but the base URL and the token."""

import re

import pytest

from tests.factories import (
    SESSION_CONFIG,
    backdate,
    completed,
    create_interview,
    create_session,
    day,
    save_performance,
)

HEX_ID = re.compile(r"^[0-9a-f]{24}$")
EMPTY_FEEDBACK = {"overall": None, "strengths": [], "improvements": [], "recommendations": []}


def start(client, headers, interview):
    """Move an interview from ready to in-progress."""
    path = f"/api/interviews/{interview['id']}"
    response = client.patch(path, json={"status": "in-progress"}, headers=headers)
    assert response.status_code == 200, response.get_json()


def dashboard(client, headers):
    response = client.get("/api/user-interviews", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def analytics(client, headers):
    response = client.get("/api/performance-stats", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def assert_legacy_id(item):
    """The object carries `_id`, the same 24-hex string as `id`."""
    assert HEX_ID.match(item["_id"]) and item["_id"] == item["id"]


# --- 1. `_id` beside `id` on the legacy paths ----------------------------------------------


def test_user_interviews_items_carry_legacy_id(client, alice):
    create_interview(client, alice)
    start(client, alice, create_interview(client, alice))
    interviews = dashboard(client, alice)["interviews"]
    assert len(interviews) == 2
    for interview in interviews:
        assert_legacy_id(interview)


@pytest.mark.parametrize("where", ["json", "query"])
def test_delete_interview_driven_by_legacy_id_deletes_it(client, alice, where):
    kept = create_interview(client, alice, jobTitle="Kept")
    create_interview(client, alice, jobTitle="Deleted")
    interview = dashboard(client, alice)["interviews"][0]  # what the dashboard's button holds
    assert interview["jobTitle"] == "Deleted"
    if where == "json":
        response = client.delete(
            "/api/delete-interview", json={"interviewId": interview["_id"]}, headers=alice
        )
    else:
        response = client.delete(
            "/api/delete-interview", query_string={"interviewId": interview["_id"]}, headers=alice
        )
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "message": "Interview deleted"}
    assert [item["_id"] for item in dashboard(client, alice)["interviews"]] == [kept["id"]]
    gone = client.get(f"/api/interviews/{interview['_id']}", headers=alice)
    assert gone.status_code == 404


def test_delete_interview_with_its_performance_by_legacy_id(client, alice):
    saved = completed(client, alice)
    interview_id = saved["performance"]["interviewId"]
    response = client.delete(
        "/api/delete-interview", json={"interviewId": interview_id}, headers=alice
    )
    assert response.status_code == 200
    assert analytics(client, alice)["performances"] == []


def test_legacy_save_performance_carries_legacy_id(client, alice):
    saved = completed(client, alice)
    assert_legacy_id(saved["performance"])
    assert saved["performanceId"] == saved["performance"]["_id"]


def test_performance_stats_performances_carry_legacy_id(client, alice):
    for score in (60, 70):
        completed(client, alice, score=score)
    body = analytics(client, alice)
    assert len(body["performances"]) == 2 and len(body["recent"]) == 2
    for performance in body["performances"] + body["recent"]:
        assert_legacy_id(performance)


def test_resource_paths_answer_without_legacy_id(client, alice):
    interview = create_interview(client, alice)
    response = client.put(
        f"/api/interviews/{interview['id']}/performance", json={"score": 50}, headers=alice
    )
    listed = client.get("/api/interviews", headers=alice).get_json()["items"]
    assert "_id" not in interview and "_id" not in listed[0]
    assert "_id" not in response.get_json()["performance"]


def test_openapi_documents_legacy_id(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    for name in ("LegacyInterview", "LegacyPerformance", "Session", "Message"):
        legacy_id = schemas[name]["properties"]["_id"]
        assert legacy_id["type"] == "string" and legacy_id["readOnly"] is True
    assert "_id" not in schemas["Interview"]["properties"]


# --- 2. the dashboard counts ---------------------------------------------------------------


def test_user_interviews_counts_every_open_interview_as_in_progress(client, alice, bob):
    ready = [create_interview(client, alice) for _ in range(2)]
    started = create_interview(client, alice)
    start(client, alice, started)
    for _ in range(2):
        completed(client, alice)
    create_interview(client, bob)
    body = dashboard(client, alice)
    assert body["stats"] == {"total": 5, "completed": 2, "inProgress": 3}
    listed = [item["id"] for item in body["interviews"]]
    assert listed == [started["id"], ready[1]["id"], ready[0]["id"]]  # not completed, newest first
    assert [item["status"] for item in body["interviews"]] == ["in-progress", "ready", "ready"]


# --- 3. no null where the pages map or iterate ---------------------------------------------


def test_legacy_save_with_only_a_score_answers_empty_lists(client, alice):
    performance = completed(client, alice, score=64)["performance"]
    assert performance["roundResults"] == []
    assert performance["feedback"] == EMPTY_FEEDBACK
    # Not measured stays unknown: nothing is invented.
    assert performance["timeSpent"] is None
    assert performance["totalQuestions"] is None and performance["correctAnswers"] is None


def test_legacy_save_with_null_lists_answers_empty_lists(client, alice):
    saved = completed(client, alice, feedback=None, roundResults=None)
    assert saved["performance"]["roundResults"] == []
    assert saved["performance"]["feedback"] == EMPTY_FEEDBACK


def test_legacy_save_with_partial_feedback_answers_every_list(client, alice):
    saved = completed(client, alice, feedback={"strengths": ["SQL"]})
    assert saved["performance"]["feedback"] == {**EMPTY_FEEDBACK, "strengths": ["SQL"]}


def test_performance_stats_performances_have_lists_not_null(client, alice):
    completed(client, alice, score=64)
    body = analytics(client, alice)
    for performance in body["performances"] + body["recent"]:
        assert performance["roundResults"] == []
        assert performance["feedback"] == EMPTY_FEEDBACK
        assert performance["timeSpent"] is None


def test_report_without_lists_answers_empty_lists(client, alice):
    session_id = create_session(client, alice)
    for content in ({"summary": "Good"}, {"summary": "Good", "strengths": None}):
        response = client.post(
            f"/api/sessions/{session_id}/reports",
            json={"reportType": "feedback", "content": content},
            headers=alice,
        )
        assert response.status_code == 201, response.get_json()
        for report in (
            response.get_json()["report"],
            client.get(f"/api/sessions/{session_id}/report", headers=alice).get_json()["report"],
            client.get(f"/api/sessions/{session_id}", headers=alice).get_json()["report"],
        ):
            assert report["content"]["strengths"] == []
            assert report["content"]["weaknesses"] == []
            assert report["content"]["recommendations"] == []


# --- 6. the feedback saver's 200 -----------------------------------------------------------


def test_first_legacy_save_answers_200_saved(client, alice):
    interview = create_interview(client, alice)
    response = client.post(
        "/api/save-performance", json={"interviewId": interview["id"], "score": 80}, headers=alice
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True and body["interviewUpdated"] is True
    assert body["message"] == "Performance saved"
    assert HEX_ID.match(body["performanceId"])


def test_repeated_legacy_save_answers_200_already_saved(client, alice):
    interview = create_interview(client, alice)
    first = save_performance(client, alice, interview["id"], score=80)
    again = save_performance(client, alice, interview["id"], score=20)
    assert again["performanceId"] == first["performanceId"]
    assert again["message"].startswith("Performance already saved")
    assert again["performance"]["score"] == 80


def test_resource_path_save_keeps_201_then_200(client, alice):
    interview = create_interview(client, alice)
    path = f"/api/interviews/{interview['id']}/performance"
    assert client.put(path, json={"score": 50}, headers=alice).status_code == 201
    assert client.put(path, json={"score": 50}, headers=alice).status_code == 200


# --- 7. the analytics page's whole numbers -------------------------------------------------


def history(app, client, headers, scores):
    """Completed interviews with `scores`, oldest first (one day apart)."""
    for offset, score in enumerate(scores):
        backdate(app, completed(client, headers, score=score)["performanceId"], day(offset))


@pytest.mark.parametrize(
    "scores, average, precise_average",
    [
        ([72, 73], 73, 72.5),  # half up, not to even (Python's round gives 72)
        ([73, 74], 74, 73.5),
        ([70, 70, 71], 70, 70.33),
        ([0.5], 1, 0.5),
    ],
)
def test_legacy_average_score_rounds_half_up(app, client, alice, scores, average, precise_average):
    history(app, client, alice, scores)
    body = analytics(client, alice)
    assert body["stats"]["averageScore"] == average
    assert isinstance(body["stats"]["averageScore"], int)
    assert body["summary"]["averageScore"] == precise_average


@pytest.mark.parametrize(
    "recent, trend, average",
    [
        (82.5, 3, 81),  # +2.5 → 3; average 81.25
        (77.5, -2, 79),  # -2.5 → -2 (up, as Math.round; not away from zero); average 78.75
        (76.5, -3, 78),  # -3.5 → -3; average 78.25
        (77.4, -3, 79),  # -2.6 → -3; average 78.7
        (84.5, 5, 82),  # +4.5 → 5 (not to even); average 82.25
    ],
)
def test_legacy_improvement_trend_rounds_half_up(app, client, alice, recent, trend, average):
    # The trend is the average of the last 3 scores minus the average of the 3 before.
    history(app, client, alice, [80, 80, 80, recent, recent, recent])
    body = analytics(client, alice)
    assert body["stats"]["improvementTrend"] == trend
    assert isinstance(body["stats"]["improvementTrend"], int)
    assert body["stats"]["averageScore"] == average
    assert body["trend"]["change"] == round(recent - 80, 2)  # the precise value stays
    assert body["trend"]["previousAverage"] == 80 and body["trend"]["recentAverage"] == recent


# --- the voice-agent SPA: `_id` on sessions and messages (1), metadata (4), transcript (5) --


def conversations_url(session_id):
    return f"/api/sessions/{session_id}/conversations"


def say(client, session_id, headers, content="Hello", role="user", **fields):
    """Append one message the way the agent SPA does; returns the response."""
    body = {"role": role, "content": content, **fields}
    return client.post(conversations_url(session_id), json=body, headers=headers)


def test_session_answers_carry_legacy_id(client, alice):
    created = client.post(
        "/api/sessions", json={"config": SESSION_CONFIG}, headers=alice
    ).get_json()
    session_id = created["sessionId"]
    assert_legacy_id(created["session"])
    appended = say(client, session_id, alice).get_json()["conversation"]
    assert_legacy_id(appended)
    detail = client.get(f"/api/sessions/{session_id}", headers=alice).get_json()
    assert_legacy_id(detail["session"])
    assert detail["session"]["_id"] == created["session"]["_id"]
    assert [message["_id"] for message in detail["conversations"]] == [appended["_id"]]
    ended = client.put(f"/api/sessions/{session_id}/end", headers=alice).get_json()
    assert ended["session"]["_id"] == created["session"]["_id"]
    listed = client.get("/api/sessions", headers=alice).get_json()["items"]
    assert listed[0]["_id"] == created["session"]["_id"]


def test_batch_append_messages_carry_legacy_id(client, alice):
    session_id = create_session(client, alice)
    batch = [{"role": "assistant", "content": "Q?"}, {"role": "user", "content": "A"}]
    response = client.post(conversations_url(session_id), json={"messages": batch}, headers=alice)
    assert response.status_code == 201
    for message in response.get_json()["conversations"]:
        assert_legacy_id(message)


def test_transcript_page_answers_the_original_debug_shape(client, alice):
    session_id = create_session(client, alice)
    for number in range(3):
        say(client, session_id, alice, content=f"Message {number}")
    response = client.get(conversations_url(session_id), query_string={"limit": 2}, headers=alice)
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True
    assert body["sessionId"] == session_id
    assert body["sessionStatus"] == "in_progress"
    assert body["count"] == 3  # the whole session's, not the page's
    assert [message["content"] for message in body["items"]] == ["Message 0", "Message 1"]
    assert body["conversations"] == body["items"]
    assert isinstance(body["nextCursor"], str)
    for message in body["conversations"]:
        assert_legacy_id(message)


def test_transcript_page_of_an_ended_session_tells_its_status(client, alice):
    session_id = create_session(client, alice)
    client.put(f"/api/sessions/{session_id}/end", json={"status": "abandoned"}, headers=alice)
    body = client.get(conversations_url(session_id), headers=alice).get_json()
    assert body["sessionStatus"] == "abandoned"
    assert body["count"] == 0 and body["conversations"] == [] and body["items"] == []


AGENT_METADATA = {
    "isQuestion": True,
    "showProblem": True,
    "problem": {"title": "Two Sum", "tags": ["array", "hash_map"], "level": 2},
    "hints": ["Use a map", 3, 1.5, None, False],
    "phase_2": None,
}


def test_agent_metadata_is_stored_and_answered_as_sent(client, alice):
    session_id = create_session(client, alice)
    response = say(client, session_id, alice, "Solve this", "assistant", metadata=AGENT_METADATA)
    assert response.status_code == 201, response.get_json()
    answered = {**AGENT_METADATA, "speakingDuration": None}  # the two checked keys always answer
    assert response.get_json()["conversation"]["metadata"] == answered
    detail = client.get(f"/api/sessions/{session_id}", headers=alice).get_json()
    assert detail["conversations"][0]["metadata"] == answered
    assert detail["session"]["statistics"]["questionCount"] == 1  # isQuestion still counts
    page = client.get(conversations_url(session_id), headers=alice).get_json()
    assert page["items"][0]["metadata"] == answered
    export = client.get("/api/me/export", headers=alice).get_json()
    assert export["sessions"][0]["conversations"][0]["metadata"] == answered


def test_agent_metadata_at_the_bounds_is_stored(client, alice):
    session_id = create_session(client, alice)
    keys = {f"k{number}": number for number in range(31)}
    metadata = {"isQuestion": False, **keys}  # 32 keys
    assert say(client, session_id, alice, metadata=metadata).status_code == 201
    long_name = {"a" * 64: "x" * 4000}  # the longest name; just under 4 KB as JSON
    assert say(client, session_id, alice, metadata=long_name).status_code == 201
    stored = client.get(f"/api/sessions/{session_id}", headers=alice).get_json()["conversations"]
    assert stored[0]["metadata"] == {**metadata, "speakingDuration": None}
    assert stored[1]["metadata"]["a" * 64] == "x" * 4000


RULE = "Key names must match ^[A-Za-z][A-Za-z0-9_]{0,63}$ (no $, no dots)"


@pytest.mark.parametrize(
    "metadata, errors",
    [
        ({f"k{number}": number for number in range(33)}, {"_schema": ["At most 32 keys"]}),
        ({"blob": "x" * 4100}, {"_schema": ["At most 4096 bytes of JSON"]}),
        ({"note": "é" * 2100}, {"_schema": ["At most 4096 bytes of JSON"]}),  # UTF-8 bytes
        ({"showProblem\n": True}, {"showProblem\n": [RULE]}),
        ({"$where": "1"}, {"$where": [RULE]}),
        ({"problem.title": "x"}, {"problem.title": [RULE]}),
        ({"problem": {"$gt": 1}}, {"problem.$gt": [RULE]}),
        ({"hints": [{"a.b": 1}]}, {"hints.a.b": [RULE]}),
        ({"show-problem": True}, {"show-problem": [RULE]}),
        ({"1st": True}, {"1st": [RULE]}),
        ({"_cls": "x"}, {"_cls": [RULE]}),
        ({"": 1}, {"": [RULE]}),
        ({"a" * 65: 1}, {"a" * 65: [RULE]}),
        ({"isQuestion": "maybe", "x": 1}, {"isQuestion": ["Not a valid boolean."]}),
        ({"isQuestion": 0}, {"isQuestion": ["Not a valid boolean."]}),
        ({"isQuestion": "true"}, {"isQuestion": ["Not a valid boolean."]}),
        ({"speakingDuration": -1}, {"speakingDuration": ["Must be greater than or equal to 0."]}),
    ],
)
def test_agent_metadata_past_a_bound_answers_422(client, alice, metadata, errors):
    session_id = create_session(client, alice)
    response = say(client, session_id, alice, metadata=metadata)
    assert response.status_code == 422
    body = response.get_json()
    assert body["success"] is False
    assert body["errors"] == {"metadata": errors}
    assert client.get(conversations_url(session_id), headers=alice).get_json()["count"] == 0


def test_agent_metadata_past_a_bound_in_a_batch_answers_422(client, alice):
    session_id = create_session(client, alice)
    batch = [
        {"role": "assistant", "content": "Q?", "metadata": {"showProblem": True}},
        {"role": "user", "content": "A", "metadata": {"a.b": 1}},
    ]
    response = client.post(conversations_url(session_id), json={"messages": batch}, headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"messages": {"1": {"metadata": {"a.b": [RULE]}}}}
    assert client.get(conversations_url(session_id), headers=alice).get_json()["count"] == 0
