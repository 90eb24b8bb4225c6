"""Test data through the API: sessions, messages, reports, interviews and performances; paging."""

import re
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from interview_service.performance import stats
from interview_service.performance.models import Interview, Performance

# The keys of the one error shape, and a time as the API writes it.
ERROR_KEYS = {"success", "code", "status", "type", "message", "error"}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

SESSION_CONFIG = {
    "role": "Backend Engineer",
    "companyName": "Acme",
    "interviewType": "technical",
    "difficulty": "mid",
    "interactionMode": "text",
}
RESUME = {"fileName": "cv.txt", "content": "Ten years"}
# messageIndex 0..3: question, answer, question, answer. The texts are searched for in logs.
TRANSCRIPT = [
    {"role": "assistant", "content": "How would you shard a zebra-ledger?", "isQuestion": True},
    {"role": "user", "content": "By customer id, with a quokka-rebalancer moving hot ranges."},
    {"role": "assistant", "content": "How do you test a flaky marmot-queue?", "isQuestion": True},
    {"role": "user", "content": "Record the seed and replay it in a narwhal-harness."},
]
SECRET_WORDS = ("zebra-ledger", "quokka-rebalancer", "marmot-queue", "narwhal-harness")
BASE_TIME = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


# --- sessions, messages, reports ----------------------------------------------------------------


def session_url(session_id, suffix=""):
    """The path of a session, or of one of its sub-resources."""
    return f"/api/sessions/{session_id}{suffix}"


def post_session(client, headers=None, **body):
    """POST a session (SESSION_CONFIG unless `body` has a config); returns the response."""
    return client.post("/api/sessions", json={"config": SESSION_CONFIG, **body}, headers=headers)


def create_session(client, headers=None, **body):
    """Create a session (SESSION_CONFIG unless `body` has a config); returns its sessionId."""
    response = post_session(client, headers, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["sessionId"]


def append(client, session_id, headers=None, role="user", content="Hello", **fields):
    """POST one message; returns the response."""
    body = {"role": role, "content": content, **fields}
    return client.post(session_url(session_id, "/conversations"), json=body, headers=headers)


def question(client, session_id, headers, content="Tell me about yourself?", **fields):
    """Append an assistant question; returns the response."""
    metadata = {"isQuestion": True}
    return append(client, session_id, headers, "assistant", content, metadata=metadata, **fields)


def append_batch(client, session_id, headers, messages):
    """POST a batch of messages; returns the response."""
    body = {"messages": messages}
    return client.post(session_url(session_id, "/conversations"), json=body, headers=headers)


def user_messages(*client_ids):
    """User messages "a", "b", ... carrying these clientMessageIds."""
    return [
        {"role": "user", "content": chr(ord("a") + number), "clientMessageId": client_id}
        for number, client_id in enumerate(client_ids)
    ]


def statistics(client, session_id, headers):
    """The session's statistics as the API reads them."""
    return client.get(session_url(session_id), headers=headers).get_json()["session"]["statistics"]


def transcript(client, session_id, headers):
    """The session's messages as the API reads them."""
    return client.get(session_url(session_id), headers=headers).get_json()["conversations"]


def add_messages(client, session_id, headers=None, pairs=1):
    """Append `pairs` question/answer pairs in one batch."""
    messages = []
    for number in range(pairs):
        asked = {"role": "assistant", "content": f"Question {number}?"}
        messages.append({**asked, "metadata": {"isQuestion": True}})
        messages.append({"role": "user", "content": f"Answer {number}"})
    response = append_batch(client, session_id, headers, messages)
    assert response.status_code == 201, response.get_json()


def add_report(client, session_id, headers=None, report_type="feedback", content=None):
    """Store a report; returns its id."""
    content = {"summary": "Good", "scores": {"overall": 80}} if content is None else content
    body = {"reportType": report_type, "content": content}
    response = client.post(session_url(session_id, "/reports"), json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["report"]["id"]


def ended_session(client, headers=None, interview_id=None, messages=TRANSCRIPT, end=True):
    """A session with `messages`, ended (unless `end` is False); returns its sessionId."""
    config = {**SESSION_CONFIG, "interviewId": interview_id} if interview_id else SESSION_CONFIG
    session_id = create_session(client, headers, config=config)
    if messages:
        batch = [
            {"role": m["role"], "content": m["content"], "metadata": {"isQuestion": True}}
            if m.get("isQuestion")
            else {"role": m["role"], "content": m["content"]}
            for m in messages
        ]
        response = append_batch(client, session_id, headers, batch)
        assert response.status_code == 201, response.get_json()
    if end:
        response = client.put(session_url(session_id, "/end"), headers=headers)
        assert response.status_code == 200, response.get_json()
    return session_id


def linked_session(client, headers, **interview):
    """An interview of the caller and an ended session linked to it: (session_id, interview_id)."""
    interview_id = create_interview(client, headers, **interview)["id"]
    return ended_session(client, headers, interview_id), interview_id


def add_reports(client, session_id, headers, *types):
    """Add one empty report per type, in order; returns their ids."""
    return [add_report(client, session_id, headers, kind, content={}) for kind in types]


# --- interviews and performances -------------------------------------------------------------


def interview_body(**changes):
    """A valid interview creation body."""
    return {
        "jobTitle": "Backend Engineer",
        "companyName": "Acme",
        "interviewType": "technical",
        "experienceLevel": "mid",
        **changes,
    }


def create_interview(client, headers, **changes):
    """Create an interview and return its JSON."""
    response = client.post("/api/interviews", json=interview_body(**changes), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["interview"]


def save_performance(client, headers, interview_id, expected=200, **fields):
    """Save a performance through the legacy path and return the answer's JSON."""
    body = {"interviewId": interview_id, "score": 70, **fields}
    response = client.post("/api/save-performance", json=body, headers=headers)
    assert response.status_code == expected, response.get_json()
    return response.get_json()


def completed(client, headers, score=70, interview=None, **fields):
    """An interview created and completed with `score`; returns the save answer."""
    interview = interview or {}
    created = create_interview(client, headers, **interview)
    return save_performance(client, headers, created["id"], score=score, **fields)


def backdate(app, performance_id, when):
    """Set a performance's completedAt (and its interview's) to `when`."""
    with app.app_context():
        performance = Performance.objects.get(id=performance_id)
        performance.update(set__completed_at=when)
        Interview.objects(id=performance.interview_id).update(set__completed_at=when)
        stats.invalidate(performance.user_id)  # written behind the service's back


def crashed_save(app, interview_id, score=61):
    """Alice's performance of `interview_id` written, then the process died (interview unlinked)."""
    with app.app_context():
        performance = Performance(user_id="alice", interview_id=ObjectId(interview_id), score=score)
        return performance.derive().save()


def day(offset):
    """BASE_TIME plus `offset` days."""
    return BASE_TIME + timedelta(days=offset)


def iso(when):
    """`when` as the API writes it."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- a whole history -----------------------------------------------------------------------------


def history(client, headers, company="Acme"):
    """Two sessions (one with 4 messages and 2 reports), two interviews, one performance.

    Returns the ids: {"sessions": [...], "interviews": [...], "performances": [...]}.
    """
    talked = create_session(client, headers, resume=RESUME)
    add_messages(client, talked, headers, pairs=2)
    add_report(client, talked, headers, "summary")
    add_report(client, talked, headers, "feedback")
    quiet = create_session(client, headers, resume=RESUME)
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


# --- paging --------------------------------------------------------------------------------------


def collect_pages(client, path, headers=None, max_pages=100, **query):
    """Follow nextCursor from the first page of `path` to its last; returns each page's items."""
    pages, cursor = [], None
    while len(pages) < max_pages:
        cursor_query = {"cursor": cursor} if cursor else {}
        response = client.get(path, query_string={**query, **cursor_query}, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append(body["items"])
        cursor = body["nextCursor"]
        if cursor is None:
            return pages
    raise AssertionError(f"{path} still had a next page after {max_pages} pages")
