"""Saving a performance: validation, copied job fields, idempotency, concurrency, crash repair."""

import threading

import pytest
from bson import ObjectId

from interview_service import auth
from interview_service.performance.models import Interview, Performance
from tests.factories import crashed_save, create_interview, save_performance

FULL = {
    "score": 82,
    "totalQuestions": 10,
    "correctAnswers": 8,
    "timeSpent": 42.5,
    "feedback": {
        "overall": "Solid problem solving",
        "strengths": ["Clear communication"],
        "improvements": ["Edge cases"],
        "recommendations": ["Practice graphs"],
    },
    "roundResults": [
        {
            "roundType": "coding",
            "score": 75,
            "questionsAnswered": 3,
            "totalQuestions": 4,
            "timeSpent": 30,
        }
    ],
}


def test_save_performance_answers_200_with_the_stored_result(client, alice):
    interview = create_interview(client, alice, companyName="Globex", interviewType="dsa")
    response = client.post(
        "/api/save-performance", json={"interviewId": interview["id"], **FULL}, headers=alice
    )
    body = response.get_json()
    assert response.status_code == 200
    assert body["success"] is True
    assert body["interviewUpdated"] is True
    assert body["message"] == "Performance saved"
    performance = body["performance"]
    assert performance["id"] == body["performanceId"]
    assert performance["interviewId"] == interview["id"]
    assert performance["companyName"] == "Globex" and performance["interviewType"] == "dsa"
    assert performance["score"] == 82 and performance["timeSpent"] == 42.5
    assert performance["totalQuestions"] == 10 and performance["correctAnswers"] == 8
    assert performance["feedback"] == FULL["feedback"]
    assert performance["roundResults"] == FULL["roundResults"]
    assert performance["completedAt"].endswith("Z")


def test_save_performance_completes_the_interview(client, alice):
    interview = create_interview(client, alice)
    saved = save_performance(client, alice, interview["id"])
    after = client.get(f"/api/interviews/{interview['id']}", headers=alice).get_json()["interview"]
    assert after["status"] == "completed"
    assert after["performanceId"] == saved["performanceId"]
    assert after["completedAt"] == saved["performance"]["completedAt"]


def test_save_copies_job_fields_from_the_interview_not_the_body(client, alice):
    interview = create_interview(client, alice, jobTitle="Data Engineer", companyName="Initech")
    saved = save_performance(
        client,
        alice,
        interview["id"],
        jobTitle="CEO",
        companyName="Evil Corp",
        interviewType="behavioral",
        experienceLevel="senior",
        userId="bob",
    )
    performance = saved["performance"]
    assert performance["jobTitle"] == "Data Engineer"
    assert performance["companyName"] == "Initech"
    assert performance["interviewType"] == "technical"
    assert performance["experienceLevel"] == "mid"


def test_save_without_optional_fields_stores_nulls_not_defaults(client, alice):
    interview = create_interview(client, alice)
    saved = save_performance(client, alice, interview["id"], score=55)
    detail = client.get(f"/api/performances/{saved['performanceId']}", headers=alice)
    detail = detail.get_json()["performance"]
    for performance in (saved["performance"], detail):
        assert performance["timeSpent"] is None
        assert performance["totalQuestions"] is None and performance["correctAnswers"] is None
    # The resource path answers what is stored; the legacy answer's empty lists are tested
    # with the legacy contract.
    assert detail["roundResults"] is None and detail["feedback"] is None


def test_save_with_explicit_null_time_stores_null(client, alice):
    interview = create_interview(client, alice)
    saved = save_performance(client, alice, interview["id"], timeSpent=None, roundResults=None)
    assert saved["performance"]["timeSpent"] is None
    detail = client.get(f"/api/performances/{saved['performanceId']}", headers=alice)
    assert detail.get_json()["performance"]["roundResults"] is None


def test_put_performance_saves_through_the_resource_path(client, alice):
    interview = create_interview(client, alice)
    response = client.put(
        f"/api/interviews/{interview['id']}/performance", json={"score": 64}, headers=alice
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["performance"]["score"] == 64
    assert body["performance"]["interviewId"] == interview["id"]


def test_put_performance_with_other_interview_id_in_body_is_422(client, alice):
    interview = create_interview(client, alice)
    response = client.put(
        f"/api/interviews/{interview['id']}/performance",
        json={"score": 64, "interviewId": str(ObjectId())},
        headers=alice,
    )
    assert response.status_code == 422
    assert "interviewId" in response.get_json()["errors"]


def test_second_save_answers_200_with_the_first_result(client, alice):
    interview = create_interview(client, alice)
    first = save_performance(client, alice, interview["id"], score=90)
    second = save_performance(client, alice, interview["id"], score=10)
    assert second["performanceId"] == first["performanceId"]
    assert second["performance"] == first["performance"]
    assert second["performance"]["score"] == 90
    assert second["interviewUpdated"] is True
    assert "first result is kept" in second["message"]


def test_save_for_unknown_interview_is_404(client, alice):
    response = client.post(
        "/api/save-performance", json={"interviewId": str(ObjectId()), "score": 50}, headers=alice
    )
    assert response.status_code == 404
    assert response.get_json()["error"] == "Interview not found"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"score": None}, "score"),
        ({"score": -1}, "score"),
        ({"score": 100.5}, "score"),
        ({"score": "high"}, "score"),
        ({"interviewId": None}, "interviewId"),
        ({"interviewId": "123"}, "interviewId"),
        ({"totalQuestions": 3, "correctAnswers": 4}, "correctAnswers"),
        ({"totalQuestions": -1}, "totalQuestions"),
        ({"totalQuestions": 2.5}, "totalQuestions"),
        ({"timeSpent": -3}, "timeSpent"),
        ({"timeSpent": 10**9}, "timeSpent"),
        ({"feedback": {"strengths": "not a list"}}, "feedback"),
        ({"roundResults": [{"score": 50}]}, "roundResults"),
        ({"roundResults": [{"roundType": "hr", "timeSpent": -1}]}, "roundResults"),
        (
            {"roundResults": [{"roundType": "hr", "questionsAnswered": 5, "totalQuestions": 4}]},
            "roundResults",
        ),
        ({"roundResults": [{"roundType": "hr", "score": 101}]}, "roundResults"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_save_with_invalid_fields_is_422_and_stores_nothing(client, alice, changes, field):
    interview = create_interview(client, alice)
    body = {"interviewId": interview["id"], "score": 70, **changes}
    body = {key: value for key, value in body.items() if value is not None}
    response = client.post("/api/save-performance", json=body, headers=alice)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert client.get("/api/performances", headers=alice).get_json()["items"] == []
    after = client.get(f"/api/interviews/{interview['id']}", headers=alice).get_json()
    assert after["interview"]["status"] == "ready"


def test_save_with_non_json_body_is_415(client, alice):
    response = client.post("/api/save-performance", data="score=5", headers=alice)
    assert response.status_code == 415
    assert response.get_json()["success"] is False


def test_crashed_save_is_repaired_by_the_dashboard_read(app, client, alice):
    interview = create_interview(client, alice)
    client.patch(
        f"/api/interviews/{interview['id']}", json={"status": "in-progress"}, headers=alice
    )
    performance = crashed_save(app, interview["id"])
    dashboard = client.get("/api/user-interviews", headers=alice).get_json()
    assert dashboard["interviews"] == []
    assert dashboard["stats"] == {"total": 1, "completed": 1, "inProgress": 0}
    with app.app_context():
        stored = Interview.objects.get(id=interview["id"])
        assert stored.status == "completed"
        assert stored.performance_id == performance.id


def test_crashed_save_is_repaired_by_get_interview(app, client, alice):
    interview = create_interview(client, alice)
    performance = crashed_save(app, interview["id"])
    after = client.get(f"/api/interviews/{interview['id']}", headers=alice).get_json()
    assert after["interview"]["status"] == "completed"
    assert after["interview"]["performanceId"] == str(performance.id)
    assert after["interview"]["completedAt"] is not None


def test_crashed_save_is_repaired_by_the_next_save(app, client, alice):
    interview = create_interview(client, alice)
    performance = crashed_save(app, interview["id"])
    retry = save_performance(client, alice, interview["id"], score=99)
    assert retry["performanceId"] == str(performance.id)
    assert retry["performance"]["score"] == 61
    assert retry["interviewUpdated"] is True
    listed = client.get("/api/interviews?status=completed", headers=alice).get_json()["items"]
    assert [item["id"] for item in listed] == [interview["id"]]


def test_crashed_save_is_not_counted_as_active_in_stats(app, client, alice):
    interview = create_interview(client, alice)
    crashed_save(app, interview["id"])
    stats = client.get("/api/performance-stats", headers=alice).get_json()
    assert stats["summary"]["activeInterviews"] == 0
    assert stats["summary"]["completedInterviews"] == 1


@pytest.mark.wire
def test_twenty_concurrent_saves_leave_one_performance(wire_app):
    with wire_app.app_context():
        token = auth.issue_token("alice", wire_app.config)
    headers = {"Authorization": f"Bearer {token}"}
    interview = create_interview(wire_app.test_client(), headers)
    barrier = threading.Barrier(20)
    answers = [None] * 20

    def save(index):
        client = wire_app.test_client()
        barrier.wait()
        response = client.post(
            "/api/save-performance",
            json={"interviewId": interview["id"], "score": 50 + index, "timeSpent": index},
            headers=headers,
        )
        answers[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=save, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [status for status, _ in answers] == [200] * 20
    messages = [body["message"] for _, body in answers]
    assert messages.count("Performance saved") == 1  # the one that stored it; repeats say so
    assert len({body["performanceId"] for _, body in answers}) == 1
    assert all(body["interviewUpdated"] for _, body in answers)
    assert len({body["performance"]["score"] for _, body in answers}) == 1
    with wire_app.app_context():
        assert Performance.objects(interview_id=interview["id"]).count() == 1
        stored = Interview.objects.get(id=interview["id"])
        assert stored.status == "completed"
        assert stored.completed_at is not None
        assert str(stored.performance_id) == answers[0][1]["performanceId"]
