"""The SPA's flows through the whole deployment, written against the DESIGN contract."""

import csv
import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.factories import RESUME, SESSION_CONFIG

pytestmark = pytest.mark.e2e


@pytest.fixture
def call(stack, token_for):
    """Call the API through nginx as `user` (a fresh user per test unless named)."""
    default_user = f"e2e-{uuid.uuid4().hex[:12]}"

    def request(method, path, user=default_user, **kwargs):
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers["Authorization"] = f"Bearer {token_for(user)}"
        return requests.request(method, f"{stack.url}{path}", headers=headers, timeout=30, **kwargs)

    return request


SESSION = {"config": SESSION_CONFIG, "resume": RESUME}


def test_session_flow_from_create_to_delete(call):
    created = call("POST", "/api/sessions", json=SESSION)
    assert created.status_code == 201 and created.json()["success"] is True
    session_id = created.json()["sessionId"]
    path = f"/api/sessions/{session_id}"

    question = {
        "role": "assistant",
        "content": "Tell me about a hard bug.",
        "metadata": {"isQuestion": True},
    }
    first = call("POST", f"{path}/conversations", json=question)
    answer = {"role": "user", "content": "A race in a cache.", "clientMessageId": "m-2"}
    second = call("POST", f"{path}/conversations", json=answer)
    retried = call("POST", f"{path}/conversations", json=answer)
    assert first.status_code == 201 and first.json()["messageIndex"] == 0
    assert second.json()["messageIndex"] == 1
    assert retried.json()["messageIndex"] == 1

    ended = call("PUT", f"{path}/end", json={})
    assert ended.status_code == 200
    assert ended.json()["session"]["status"] == "completed"
    assert ended.json()["session"]["statistics"]["totalMessages"] == 2
    assert ended.json()["session"]["statistics"]["questionCount"] == 1

    content = {
        "summary": "Solid.",
        "strengths": ["clarity"],
        "weaknesses": [],
        "recommendations": ["practice system design"],
        "scores": {"overall": 80, "communication": 85, "technical": 75, "behavior": 80},
    }
    report = call("POST", f"{path}/reports", json={"reportType": "summary", "content": content})
    assert report.status_code == 201
    assert report.json()["report"]["content"]["statistics"]["questionCount"] == 1

    whole = call("GET", path)
    assert whole.status_code == 200
    assert [m["messageIndex"] for m in whole.json()["conversations"]] == [0, 1]
    assert whole.json()["report"]["reportType"] == "summary"
    assert call("GET", f"{path}/report").status_code == 200
    assert call("GET", path, user="someone-else").status_code == 404
    assert session_id in [s["sessionId"] for s in call("GET", "/api/sessions").json()["items"]]

    assert call("DELETE", path).status_code == 204
    assert call("GET", path).status_code == 404


def test_concurrent_appends_through_nginx_get_distinct_indexes(call):
    session_id = call("POST", "/api/sessions", json=SESSION).json()["sessionId"]
    message = {"role": "user", "content": "hello"}
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(
            pool.map(
                lambda _: call("POST", f"/api/sessions/{session_id}/conversations", json=message),
                range(20),
            )
        )
    assert [a.status_code for a in answers] == [201] * 20
    assert sorted(a.json()["messageIndex"] for a in answers) == list(range(20))


PERFORMANCE = {
    "score": 80,
    "totalQuestions": 10,
    "correctAnswers": 8,
    "timeSpent": 30,
    "feedback": {
        "overall": "Good",
        "strengths": ["Clear answers"],
        "improvements": ['=HYPERLINK("x")'],
        "recommendations": [],
    },
    "roundResults": [
        {
            "roundType": "coding",
            "score": 80,
            "questionsAnswered": 5,
            "totalQuestions": 5,
            "timeSpent": 20,
        }
    ],
}


def test_performance_flow_from_interview_to_export(call):
    interview = call(
        "POST",
        "/api/interviews",
        json={
            "jobTitle": "Backend Engineer",
            "companyName": "Acme",
            "interviewType": "technical",
            "experienceLevel": "mid",
        },
    )
    assert interview.status_code == 201
    interview_id = interview.json()["interview"]["id"]
    assert interview.json()["interview"]["status"] == "ready"
    active = call("GET", "/api/user-interviews").json()
    assert interview_id in [i["id"] for i in active["interviews"]]

    started = call("PATCH", f"/api/interviews/{interview_id}", json={"status": "in-progress"})
    assert started.status_code == 200

    body = {"interviewId": interview_id, **PERFORMANCE}
    with ThreadPoolExecutor(max_workers=10) as pool:
        saves = list(
            pool.map(lambda _: call("POST", "/api/save-performance", json=body), range(20))
        )
    assert [s.status_code for s in saves] == [200] * 20  # the legacy path, as the original
    assert [s.json()["message"] for s in saves].count("Performance saved") == 1
    assert len({s.json()["performanceId"] for s in saves}) == 1

    completed = call("GET", f"/api/interviews/{interview_id}").json()["interview"]
    assert completed["status"] == "completed" and completed["performanceId"]
    assert interview_id not in [
        i["id"] for i in call("GET", "/api/user-interviews").json()["interviews"]
    ]

    stats = call("GET", "/api/performance-stats").json()
    assert stats["stats"]["totalInterviews"] == 1
    assert stats["stats"]["averageScore"] == 80
    assert len(call("GET", "/api/performances").json()["items"]) == 1

    export = call("GET", "/api/performances/export.csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert export.status_code == 200
    assert export.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in export.headers["Content-Disposition"]
    assert len(rows) == 2
    assert not any(cell.startswith("=") for cell in rows[1])


def test_performance_endpoints_need_a_token(call):
    response = call("GET", "/api/performances", user=None)
    assert response.status_code == 401
    assert response.json()["success"] is False


def test_feedback_flow_from_transcript_to_performance(call, stack):
    from tests.factories import SECRET_WORDS, TRANSCRIPT
    from tests.fake_llm import answer

    user = f"e2e-{uuid.uuid4().hex[:12]}"
    body = {
        "jobTitle": "Backend Engineer",
        "companyName": "Acme",
        "interviewType": "technical",
        "experienceLevel": "mid",
    }
    interview = call("POST", "/api/interviews", user=user, json=body).json()["interview"]
    config = {**SESSION["config"], "interviewId": interview["id"]}
    session_id = call("POST", "/api/sessions", user=user, json={"config": config}).json()[
        "sessionId"
    ]
    path = f"/api/sessions/{session_id}"
    messages = [
        {"role": m["role"], "content": m["content"], "metadata": {"isQuestion": True}}
        if m.get("isQuestion")
        else {"role": m["role"], "content": m["content"]}
        for m in TRANSCRIPT
    ]
    assert call("POST", f"{path}/conversations", user=user, json={"messages": messages}).ok
    assert call("PUT", f"{path}/end", user=user).status_code == 200

    generated = call("POST", f"{path}/feedback/generate", user=user)  # the agent SPA's button

    assert generated.status_code == 201, generated.text
    report = generated.json()["report"]
    assert report["status"] == "ready"
    assert report["content"]["summary"] == answer()["summary"]
    assert call("GET", f"{path}/report", user=user).json()["report"]["id"] == report["id"]
    stats = call("GET", "/api/performance-stats", user=user).json()
    assert stats["summary"]["completedInterviews"] == 1
    assert stats["performances"][0]["score"] == answer()["scores"]["overall"]

    queued = call(
        "POST", f"{path}/reports/generate", user=user, headers={"Prefer": "respond-async"}
    )  # the feedback-worker process generates this one

    assert queued.status_code == 202, queued.text
    location = queued.headers["Location"]

    def polled():
        return call("GET", location, user=user).json()["report"]["status"]

    deadline = time.monotonic() + 30
    while polled() == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert polled() == "ready"
    assert (
        call("GET", "/api/performance-stats", user=user).json()["summary"]["completedInterviews"]
        == 1
    )  # saved once
    logs = stack.app_log.read_text() + stack.worker_log.read_text()
    assert "feedback generation ready" in stack.worker_log.read_text()
    assert not any(secret in logs for secret in SECRET_WORDS)
