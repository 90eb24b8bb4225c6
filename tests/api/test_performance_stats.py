"""Analytics over a known history: every figure below is worked out by hand from HISTORY."""

import pytest

from tests.factories import backdate, completed, create_interview, day, iso

# (type, company, level, score, totalQuestions, correctAnswers, timeSpent, strengths,
#  improvements, roundResults) — completed on days 0..6, oldest first.
HISTORY = [
    ("technical", "Acme", "mid", 50, 10, 5, 30, ["Clear communication"],
     ["Edge cases", "Time management"],
     [{"roundType": "coding", "score": 40, "questionsAnswered": 2, "totalQuestions": 4,
       "timeSpent": 10},
      {"roundType": "hr", "score": 60, "questionsAnswered": 1, "totalQuestions": 1,
       "timeSpent": 5}]),
    ("behavioral", "Globex", "senior", 70, 5, 4, None, ["  clear   COMMUNICATION "],
     ["Edge Cases"], None),
    ("technical", "Acme", "mid", 65, 8, 6, 24, [], ["edge cases"],
     [{"roundType": "coding", "score": 70, "questionsAnswered": 3, "totalQuestions": 4,
       "timeSpent": 12}]),
    ("dsa", "Initech", "entry", 80, None, None, 40, ["Problem solving"], ["Time management"],
     [{"roundType": "coding", "score": 90, "questionsAnswered": 4, "totalQuestions": 4}]),
    ("technical", "Globex", "mid", 75, 10, 9, 20, ["Problem solving", "Clear communication"],
     [], [{"roundType": "hr", "score": 80, "questionsAnswered": 2, "totalQuestions": 2,
           "timeSpent": 8}]),
    ("behavioral", "Acme", "senior", 90, 4, 4, 16, [], ["Time management"], None),
    ("technical", "Acme", "mid", 85, 10, 8, None, [], ["Edge cases"], None),
]  # fmt: skip


@pytest.fixture
def history(app, client, alice):
    """HISTORY saved for alice, plus one ready and one in-progress interview."""
    saved = []
    for offset, row in enumerate(HISTORY):
        kind, company, level, score, total, correct, minutes, strengths, improvements, rounds = row
        fields = {"feedback": {"overall": f"Interview {offset}", "strengths": strengths,
                               "improvements": improvements}}  # fmt: skip
        for key, value in (
            ("totalQuestions", total),
            ("correctAnswers", correct),
            ("timeSpent", minutes),
            ("roundResults", rounds),
        ):
            if value is not None:
                fields[key] = value
        interview = {"interviewType": kind, "companyName": company, "experienceLevel": level}
        answer = completed(client, alice, score=score, interview=interview, **fields)
        backdate(app, answer["performanceId"], day(offset))
        saved.append(answer["performanceId"])
    create_interview(client, alice)
    started = create_interview(client, alice)
    client.patch(f"/api/interviews/{started['id']}", json={"status": "in-progress"}, headers=alice)
    return saved


def stats(client, headers, **query):
    response = client.get("/api/performance-stats", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["success"] is True
    return body


def test_stats_keeps_the_legacy_keys(client, alice, history):
    assert stats(client, alice)["stats"] == {
        "totalInterviews": 7,
        "averageScore": 74,  # 515 / 7 = 73.57, whole as the page shows it (summary: precise)
        "totalTimeSpent": 130,  # 30 + 24 + 40 + 20 + 16
        "improvementTrend": 12,  # avg(75, 90, 85) - avg(70, 65, 80) = 83.33 - 71.67 = 11.67
        "strongestArea": "hr",  # hr avg 70 > coding avg 66.67
        "weakestArea": "coding",
        "recentPerformance": [50, 70, 65, 80, 75, 90, 85],
    }


def test_stats_summary(client, alice, history):
    assert stats(client, alice)["summary"] == {
        "completedInterviews": 7,
        "activeInterviews": 2,
        "averageScore": 73.57,
        "bestScore": 90,
        "latestScore": 85,
        "totalTimeSpent": 130,
        "averageTimeSpent": 26,  # 130 / 5 timed interviews
        "accuracy": 0.766,  # (5+4+6+9+4+8) / (10+5+8+10+4+10) = 36 / 47
    }


def test_stats_trend(client, alice, history):
    trend = stats(client, alice)["trend"]
    assert [point["score"] for point in trend["points"]] == [50, 70, 65, 80, 75, 90, 85]
    assert trend["points"][0] == {
        "completedAt": iso(day(0)),
        "score": 50,
        "interviewType": "technical",
        "companyName": "Acme",
    }
    # trailing mean of up to 3: 50, (50+70)/2, (50+70+65)/3, (70+65+80)/3, ...
    assert trend["movingAverage"] == [50, 60, 61.67, 71.67, 73.33, 81.67, 83.33]
    assert trend["movingAverageWindow"] == 3
    # x = 0..6 (mean 3): Σ(x-3)·y = -150-140-65+0+75+180+255 = 155, Σ(x-3)² = 28 → 5.5357
    assert trend["slope"] == 5.5357
    assert trend["direction"] == "improving"
    assert trend["window"] == 3
    assert trend["recentAverage"] == 83.33
    assert trend["previousAverage"] == 71.67
    assert trend["change"] == 11.67


def test_stats_by_type_company_and_level(client, alice, history):
    body = stats(client, alice)
    assert body["byType"] == [
        {"key": "technical", "count": 4, "averageScore": 68.75, "bestScore": 85,
         "latestScore": 85, "averageTimeSpent": 24.67},  # (30 + 24 + 20) / 3
        {"key": "behavioral", "count": 2, "averageScore": 80, "bestScore": 90,
         "latestScore": 90, "averageTimeSpent": 16},
        {"key": "dsa", "count": 1, "averageScore": 80, "bestScore": 80, "latestScore": 80,
         "averageTimeSpent": 40},
    ]  # fmt: skip
    assert body["byCompany"] == [
        {"key": "Acme", "count": 4, "averageScore": 72.5, "bestScore": 90, "latestScore": 85,
         "averageTimeSpent": 23.33,
         "topImprovements": [{"text": "edge cases", "count": 3},
                             {"text": "time management", "count": 2}]},
        {"key": "Globex", "count": 2, "averageScore": 72.5, "bestScore": 75, "latestScore": 75,
         "averageTimeSpent": 20, "topImprovements": [{"text": "edge cases", "count": 1}]},
        {"key": "Initech", "count": 1, "averageScore": 80, "bestScore": 80, "latestScore": 80,
         "averageTimeSpent": 40, "topImprovements": [{"text": "time management", "count": 1}]},
    ]  # fmt: skip
    assert body["byExperienceLevel"] == [
        {"key": "mid", "count": 4, "averageScore": 68.75, "bestScore": 85, "latestScore": 85,
         "averageTimeSpent": 24.67},
        {"key": "senior", "count": 2, "averageScore": 80, "bestScore": 90, "latestScore": 90,
         "averageTimeSpent": 16},
        {"key": "entry", "count": 1, "averageScore": 80, "bestScore": 80, "latestScore": 80,
         "averageTimeSpent": 40},
    ]  # fmt: skip


def test_stats_rounds_and_time_management(client, alice, history):
    body = stats(client, alice)
    assert body["rounds"] == [
        {"roundType": "coding", "count": 3, "averageScore": 66.67, "questionsAnswered": 9,
         "totalQuestions": 12, "answeredRatio": 0.75, "averageTimeSpent": 11},
        {"roundType": "hr", "count": 2, "averageScore": 70, "questionsAnswered": 3,
         "totalQuestions": 3, "answeredRatio": 1, "averageTimeSpent": 6.5},
    ]  # fmt: skip
    # Interviews with both a time and questions: 30/10, 24/8, 20/10 (technical), 16/4.
    assert body["timeManagement"] == {
        "minutesPerQuestion": 2.81,  # 90 / 32
        "byType": [
            {"interviewType": "behavioral", "minutesPerQuestion": 4},
            {"interviewType": "technical", "minutesPerQuestion": 2.64},  # 74 / 28
        ],
    }


def test_stats_feedback_themes_are_normalised_and_counted(client, alice, history):
    assert stats(client, alice)["feedbackThemes"] == {
        "strengths": [
            {"text": "clear communication", "count": 3},
            {"text": "problem solving", "count": 2},
        ],
        "improvements": [
            {"text": "edge cases", "count": 4},
            {"text": "time management", "count": 3},
        ],
    }


def test_stats_lists_the_newest_performances(client, alice, history):
    body = stats(client, alice, limit=3)
    assert [item["id"] for item in body["performances"]] == history[:-4:-1]
    assert [item["id"] for item in body["recent"]] == history[:-6:-1]
    assert [point["score"] for point in body["trend"]["points"]] == [75, 90, 85]
    assert body["summary"]["completedInterviews"] == 7
    assert body["stats"]["recentPerformance"] == [50, 70, 65, 80, 75, 90, 85]


def test_stats_default_list_is_the_whole_short_history(client, alice, history):
    body = stats(client, alice)
    assert [item["id"] for item in body["performances"]] == list(reversed(history))
    assert body["performances"][0]["feedback"]["improvements"] == ["Edge cases"]
    assert body["performances"][0]["timeSpent"] is None


def test_stats_apply_the_filters(client, alice, history):
    body = stats(client, alice, interviewType="technical")
    assert body["summary"]["completedInterviews"] == 4
    assert body["summary"]["averageScore"] == 68.75
    assert body["stats"]["improvementTrend"] == 0  # fewer than 6
    assert [point["score"] for point in body["trend"]["points"]] == [50, 65, 75, 85]
    assert body["trend"]["slope"] == 11.5  # Σ(x-1.5)(y-68.75) = 57.5, Σ(x-1.5)² = 5


def test_stats_filter_by_dates_and_search(client, alice, history):
    body = stats(client, alice, **{"from": iso(day(2)), "to": iso(day(4)), "q": "interview"})
    assert [point["score"] for point in body["trend"]["points"]] == [65, 80, 75]
    assert body["summary"]["bestScore"] == 80
    searched = stats(client, alice, q="edge cases")
    assert searched["summary"]["completedInterviews"] == 4  # 50, 70, 65, 85


def test_stats_declining_direction(app, client, alice):
    for offset, score in enumerate([90, 80, 70]):
        backdate(app, completed(client, alice, score=score)["performanceId"], day(offset))
    trend = stats(client, alice)["trend"]
    assert trend["direction"] == "declining"
    assert trend["slope"] == -10


def test_stats_steady_with_flat_scores(app, client, alice):
    for offset, score in enumerate([70, 71, 70, 70]):
        backdate(app, completed(client, alice, score=score)["performanceId"], day(offset))
    trend = stats(client, alice)["trend"]
    assert trend["direction"] == "steady"
    assert trend["slope"] == -0.1  # Σ(x-1.5)(y-70.25) = -0.5, Σ(x-1.5)² = 5


def test_stats_of_an_empty_history(client, alice):
    create_interview(client, alice)
    body = stats(client, alice)
    assert body["stats"] == {
        "totalInterviews": 0,
        "averageScore": 0,
        "totalTimeSpent": 0,
        "improvementTrend": 0,
        "strongestArea": None,
        "weakestArea": None,
        "recentPerformance": [],
    }
    assert body["summary"] == {
        "completedInterviews": 0,
        "activeInterviews": 1,
        "averageScore": None,
        "bestScore": None,
        "latestScore": None,
        "totalTimeSpent": 0,
        "averageTimeSpent": None,
        "accuracy": None,
    }
    assert body["trend"]["points"] == [] and body["trend"]["direction"] == "steady"
    assert body["performances"] == [] and body["recent"] == []
    assert body["byType"] == [] and body["rounds"] == []
    assert body["feedbackThemes"] == {"strengths": [], "improvements": []}


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "interviewType=x", "from=never", "cursor=abc", "sort=score"]
)
def test_stats_with_bad_query_is_422(client, alice, query):
    response = client.get(f"/api/performance-stats?{query}", headers=alice)
    assert response.status_code == 422
    assert response.get_json()["success"] is False
