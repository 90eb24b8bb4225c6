"""Listing performances: filters, keyword search, sort, cursor paging and bad filters."""

from datetime import UTC, datetime

import pytest
from bson import ObjectId

from tests.factories import backdate, collect_pages, completed, create_interview, day, iso

OUT_OF_CALENDAR = "Not a valid datetime: outside years 0001-9999 in UTC."


@pytest.fixture
def history(app, client, alice):
    """Four performances of alice on known days, types, companies and feedback."""
    rows = [
        (0, 60, {"companyName": "Acme", "interviewType": "technical",
                 "jobTitle": "Backend Dev"},
         {"overall": "Good grasp of databases", "improvements": ["System design depth"]}),
        (1, 85, {"companyName": "Globex", "interviewType": "behavioral",
                 "experienceLevel": "senior"},
         {"overall": "Great storytelling", "strengths": ["Leadership examples"]}),
        (2, 72, {"companyName": "Acme", "interviewType": "dsa", "jobTitle": "Frontend Dev"},
         {"overall": "Struggled with graphs", "recommendations": ["Practice graph traversal"]}),
        (3, 90, {"companyName": "Initech", "interviewType": "technical",
                 "jobTitle": "Data Engineer"},
         {"overall": "Excellent SQL and databases"}),
    ]  # fmt: skip
    saved = []
    for offset, score, interview, feedback in rows:
        answer = completed(client, alice, score=score, interview=interview, feedback=feedback)
        backdate(app, answer["performanceId"], day(offset))
        saved.append(answer["performanceId"])
    return saved


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_list_performances_is_newest_first_by_default(client, alice, history):
    response = client.get("/api/performances", headers=alice)
    assert ids(response) == list(reversed(history))
    assert response.get_json()["nextCursor"] is None
    assert response.get_json()["items"][0]["completedAt"] == iso(day(3))


@pytest.mark.parametrize(
    "query, expected",
    [
        ("sort=completedAt", [0, 1, 2, 3]),
        ("sort=-score", [3, 1, 2, 0]),
        ("sort=score", [0, 2, 1, 3]),
        ("interviewType=technical", [3, 0]),
        ("companyName=Acme", [2, 0]),
        ("experienceLevel=senior", [1]),
        ("from=2024-03-02T00:00:00Z", [3, 2, 1]),
        ("to=2024-03-02T09:00:00Z", [1, 0]),
        ("from=2024-03-02T00:00:00Z&to=2024-03-03T23:59:59Z", [2, 1]),
        ("companyName=Acme&interviewType=dsa", [2]),
        ("companyName=Nobody", []),
    ],
)
def test_list_performances_sorts_and_filters(client, alice, history, query, expected):
    response = client.get(f"/api/performances?{query}", headers=alice)
    assert ids(response) == [history[index] for index in expected]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("databases", [3, 0]),
        ("DATABASES excellent", [3]),
        ("acme", [2, 0]),
        ("graph", [2]),  # in the recommendations
        ("graphs", [2]),
        ("leadership", [1]),
        ("frontend acme", [2]),
        ("design", [0]),
        ("nothing-like-this", []),
    ],
)
def test_search_matches_all_words_of_title_company_and_feedback(
    client, alice, history, q, expected
):
    response = client.get("/api/performances", query_string={"q": q}, headers=alice)
    assert ids(response) == [history[index] for index in expected]


def test_search_treats_regex_characters_as_text(client, alice, history):
    response = client.get("/api/performances", query_string={"q": "acme.*"}, headers=alice)
    assert ids(response) == [history[2], history[0]]


def test_search_combines_with_filters(client, alice, history):
    response = client.get(
        "/api/performances", query_string={"q": "databases", "interviewType": "technical",
                                           "from": "2024-03-03T00:00:00Z"}, headers=alice
    )  # fmt: skip
    assert ids(response) == [history[3]]


@pytest.mark.parametrize("sort", ["-completedAt", "completedAt", "score", "-score"])
def test_pages_cover_every_performance_once(app, client, alice, sort):
    scores = [50, 70, 70, 70, 90, 60, 70, 80, 55]  # ties exercise the id tie-break
    expected = []
    for offset, score in enumerate(scores):
        answer = completed(client, alice, score=score)
        backdate(app, answer["performanceId"], day(offset // 2))  # equal dates too
        expected.append(answer["performanceId"])
    pages = collect_pages(client, "/api/performances", alice, limit=2, sort=sort)
    seen = [item["id"] for page in pages for item in page]
    assert len(pages) == 5
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    full = client.get("/api/performances", query_string={"sort": sort, "limit": 100}, headers=alice)
    assert seen == ids(full)


@pytest.mark.parametrize(
    "query",
    [
        "interviewType=trivia",
        "experienceLevel=guru",
        "from=yesterday",
        "to=2024-13-01",
        "from=2024-03-05T00:00:00Z&to=2024-03-01T00:00:00Z",
        "sort=random",
        "sort=-jobTitle",
        "limit=0",
        "limit=101",
        "cursor=not-a-cursor",
        "q=",
        "q=%21%21%21",
        "q=" + "+".join(f"word{n}" for n in range(11)),
        "companyName=",
        "status=completed",
        "page=2",
    ],
)
def test_list_performances_with_bad_filter_is_422(client, alice, query):
    response = client.get(f"/api/performances?{query}", headers=alice)
    assert response.status_code == 422
    body = response.get_json()
    assert body["success"] is False and body["errors"]


@pytest.mark.parametrize(
    "path", ["/api/performances", "/api/performance-stats", "/api/performances/export.csv"]
)
@pytest.mark.parametrize(
    "query",
    ["from=9999-12-31T23:59:59-01:00", "to=0001-01-01T00:00:00%2B01:00"],
    ids=["after-9999", "before-0001"],
)
def test_filter_time_beyond_the_calendar_in_utc_is_422(client, alice, path, query):
    response = client.get(f"{path}?{query}", headers=alice)
    assert response.status_code == 422
    name = query.split("=")[0]
    assert response.get_json()["errors"] == {name: [OUT_OF_CALENDAR]}


def test_times_at_the_calendar_edges_are_answered_in_iso_and_accepted_back(app, client, alice):
    early, late = completed(client, alice), completed(client, alice)
    backdate(app, early["performanceId"], datetime(946, 6, 9, 12, 0, tzinfo=UTC))
    backdate(app, late["performanceId"], datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))
    answered = client.get("/api/performances", headers=alice).get_json()["items"]
    assert [item["completedAt"] for item in answered] == [
        "9999-12-31T23:59:59.999Z",
        "0946-06-09T12:00:00.000Z",
    ]
    for item in answered:
        query = {"from": item["completedAt"], "to": item["completedAt"]}
        assert ids(client.get("/api/performances", query_string=query, headers=alice)) == [
            item["id"]
        ]
    everything = {"from": answered[1]["completedAt"], "to": answered[0]["completedAt"]}
    response = client.get("/api/performances", query_string=everything, headers=alice)
    assert len(ids(response)) == 2


def test_get_performance_answers_the_detailed_view(client, alice):
    interview = create_interview(client, alice)
    saved = client.put(
        f"/api/interviews/{interview['id']}/performance",
        json={"score": 77, "feedback": {"overall": "Fine"}},
        headers=alice,
    ).get_json()  # the resource path's answer, as the detailed view is one
    response = client.get(f"/api/performances/{saved['performanceId']}", headers=alice)
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "performance": saved["performance"]}


@pytest.mark.parametrize("performance_id", [str(ObjectId()), "xyz"], ids=["unknown", "malformed"])
def test_get_unknown_performance_is_404(client, alice, performance_id):
    response = client.get(f"/api/performances/{performance_id}", headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Performance not found"


def test_cursor_of_another_sort_is_422(client, alice, history):
    by_score = client.get("/api/performances?sort=score&limit=1", headers=alice).get_json()
    response = client.get(
        "/api/performances",
        query_string={"sort": "-completedAt", "cursor": by_score["nextCursor"]},
        headers=alice,
    )
    assert response.status_code == 422
    assert "cursor" in response.get_json()["errors"]
