"""The existing clients' reads, from their side: the dashboard, the analytics page, the feedback
saver and the voice-agent SPA work with nothing changed but the base URL and the token."""

import re

import pytest

from tests.account_helpers import create_session
from tests.performance_helpers import (
    backdate,
    completed,
    create_interview,
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
    for name in ("LegacyInterview", "LegacyPerformance"):
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
