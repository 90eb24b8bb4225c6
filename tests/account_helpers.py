"""Builders for the account tests: a user's history created through the API."""

from tests.performance_helpers import completed, create_interview

SESSION_CONFIG = {
    "role": "Backend Engineer",
    "companyName": "Acme",
    "interviewType": "technical",
    "difficulty": "mid",
    "interactionMode": "text",
}


def create_session(client, headers=None):
    """A session with a résumé; returns its sessionId."""
    body = {"config": SESSION_CONFIG, "resume": {"fileName": "cv.txt", "content": "Ten years"}}
    response = client.post("/api/sessions", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["sessionId"]


def add_messages(client, session_id, headers=None, pairs=1):
    """Append `pairs` question/answer pairs in one batch."""
    messages = []
    for number in range(pairs):
        question = {"role": "assistant", "content": f"Question {number}?"}
        messages.append({**question, "metadata": {"isQuestion": True}})
        messages.append({"role": "user", "content": f"Answer {number}"})
    response = client.post(
        f"/api/sessions/{session_id}/conversations", json={"messages": messages}, headers=headers
    )
    assert response.status_code == 201, response.get_json()


def add_report(client, session_id, headers=None, report_type="feedback"):
    """Store a report; returns its id."""
    body = {"reportType": report_type, "content": {"summary": "Good", "scores": {"overall": 80}}}
    response = client.post(f"/api/sessions/{session_id}/reports", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["report"]["id"]


def history(client, headers, company="Acme"):
    """Two sessions (one with 4 messages and 2 reports), two interviews, one performance.

    Returns the ids: {"sessions": [...], "interviews": [...], "performances": [...]}.
    """
    talked = create_session(client, headers)
    add_messages(client, talked, headers, pairs=2)
    add_report(client, talked, headers, "summary")
    add_report(client, talked, headers, "feedback")
    quiet = create_session(client, headers)
    saved = completed(
        client,
        headers,
        score=75,
        interview={"companyName": company},
        feedback={"overall": "Solid", "strengths": ["SQL"], "improvements": ["Edge cases"]},
        roundResults=[{"roundType": "coding", "score": 70}],
    )
    open_interview = create_interview(client, headers, companyName=company)
    return {
        "sessions": [talked, quiet],
        "interviews": [saved["performance"]["interviewId"], open_interview["id"]],
        "performances": [saved["performanceId"]],
    }
