"""Builders for the performance tests: interviews and saved results through the API."""

from datetime import UTC, datetime, timedelta

from interview_service.performance import stats
from interview_service.performance.models import Interview, Performance

BASE_TIME = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


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


def day(offset):
    """BASE_TIME plus `offset` days."""
    return BASE_TIME + timedelta(days=offset)


def iso(when):
    """`when` as the API writes it."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
