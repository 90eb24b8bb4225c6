"""A session's reports: add, latest, list."""

from datetime import UTC, datetime, timedelta

import pytest

from interview_service.sessions.models import Report
from tests.factories import (
    ISO_Z,
    add_report,
    add_reports,
    append,
    create_session,
    iso,
    question,
    session_url,
)

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


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
        session_url(session_id, "/reports"),
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

    start = client.get(session_url(session_id), headers=alice).get_json()["session"]["startTime"]
    question(client, session_id, alice, timestamp=at(1))
    append(client, session_id, alice, timestamp=at(5))  # answered after 4 s
    append(client, session_id, alice, "assistant", "Good.", timestamp=at(6))
    question(client, session_id, alice, timestamp=at(10))
    append(client, session_id, alice, timestamp=at(16))  # answered after 6 s
    question(client, session_id, alice, timestamp=at(20))  # never answered
    client.put(session_url(session_id, "/end"), json={"endTime": at(60)}, headers=alice)
    response = client.post(
        session_url(session_id, "/reports"),
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
        session_url(session_id, "/reports"),
        json={"reportType": "feedback", "content": {}},
        headers=alice,
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
        # Counts are whole numbers as sent: never truncated (2.5 → 2) or read from a string.
        (
            {"reportType": "summary", "content": {"statistics": {"questionCount": 2.5}}},
            {"content": {"statistics": {"questionCount": ["Not a valid integer."]}}},
        ),
        (
            {"reportType": "summary", "content": {"statistics": {"totalDuration": "1800"}}},
            {"content": {"statistics": {"totalDuration": ["Not a valid integer."]}}},
        ),
    ],
)
def test_add_invalid_report_answers_422(client, alice, session_id, body, errors):
    response = client.post(session_url(session_id, "/reports"), json=body, headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == errors
    assert Report.objects.count() == 0


def test_add_report_to_another_users_session_answers_404(client, bob, session_id):
    response = client.post(
        session_url(session_id, "/reports"),
        json={"reportType": "summary", "content": {}},
        headers=bob,
    )
    assert response.status_code == 404
    assert Report.objects.count() == 0


def test_report_read_under_another_session_of_the_same_user_answers_404(client, alice, session_id):
    report_id = add_report(client, session_id, alice)
    other = create_session(client, alice)
    response = client.get(session_url(other, f"/reports/{report_id}"), headers=alice)
    assert (response.status_code, response.get_json()["error"]) == (404, "Report not found")
    mine = client.get(session_url(session_id, f"/reports/{report_id}"), headers=alice)
    assert mine.status_code == 200


def test_latest_report_is_the_newest(client, alice, session_id):
    ids = add_reports(client, session_id, alice, "summary", "detailed", "summary")
    response = client.get(session_url(session_id, "/report"), headers=alice)
    assert response.status_code == 200
    assert response.get_json()["report"]["id"] == ids[2]


def test_latest_report_of_a_type(client, alice, session_id):
    ids = add_reports(client, session_id, alice, "detailed", "summary", "feedback")
    response = client.get(session_url(session_id, "/report?reportType=detailed"), headers=alice)
    assert response.status_code == 200
    assert response.get_json()["report"]["id"] == ids[0]


def test_latest_report_when_there_is_none_answers_404(client, alice, session_id):
    response = client.get(session_url(session_id, "/report"), headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Report not found"


def test_latest_report_of_a_missing_type_answers_404(client, alice, session_id):
    add_reports(client, session_id, alice, "summary")
    response = client.get(session_url(session_id, "/report?reportType=feedback"), headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Report not found"


def test_latest_report_with_a_bad_type_answers_422(client, alice, session_id):
    response = client.get(session_url(session_id, "/report?reportType=essay"), headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "reportType": ["Must be one of: summary, detailed, feedback."]
    }


def test_latest_report_of_another_users_session_answers_404(client, alice, bob, session_id):
    add_reports(client, session_id, alice, "summary")
    response = client.get(session_url(session_id, "/report"), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"


def test_list_reports_newest_first(client, alice, session_id):
    ids = add_reports(client, session_id, alice, "summary", "detailed", "feedback")
    response = client.get(session_url(session_id, "/reports"), headers=alice)
    assert response.status_code == 200
    assert [report["id"] for report in response.get_json()["items"]] == ids[::-1]


def test_list_reports_of_another_users_session_answers_404(client, alice, bob, session_id):
    add_reports(client, session_id, alice, "summary")
    response = client.get(session_url(session_id, "/reports"), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Session not found"
