"""CSV export: columns, quoting, injection guard, filters and streaming."""

import csv
import io

import pytest

from interview_service.performance import export
from tests.factories import backdate, completed, day, iso

HEADER = [
    "performanceId",
    "interviewId",
    "completedAt",
    "jobTitle",
    "companyName",
    "interviewType",
    "experienceLevel",
    "score",
    "totalQuestions",
    "correctAnswers",
    "accuracy",
    "timeSpent",
    "feedbackOverall",
    "strengths",
    "improvements",
    "recommendations",
    "roundCount",
    "rounds",
]


def download(client, headers, **query):
    response = client.get("/api/performances/export.csv", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


def test_export_writes_one_row_per_performance(app, client, alice):
    saved = completed(
        client,
        alice,
        score=82.5,
        interview={"jobTitle": "Data, \"Platform\" Engineer", "companyName": "Acme\nLabs"},
        totalQuestions=10,
        correctAnswers=8,
        timeSpent=42,
        feedback={
            "overall": "Line one\nline two, with \"quotes\"",
            "strengths": ["Clear communication", "SQL"],
            "improvements": ["Edge cases"],
        },
        roundResults=[
            {"roundType": "coding", "score": 75, "questionsAnswered": 3, "totalQuestions": 4,
             "timeSpent": 30},
            {"roundType": "hr", "score": 90},
        ],
    )  # fmt: skip
    backdate(app, saved["performanceId"], day(0))
    assert download(client, alice) == [
        {
            "performanceId": saved["performanceId"],
            "interviewId": saved["performance"]["interviewId"],
            "completedAt": iso(day(0)),
            "jobTitle": 'Data, "Platform" Engineer',
            "companyName": "Acme\nLabs",
            "interviewType": "technical",
            "experienceLevel": "mid",
            "score": "82.5",
            "totalQuestions": "10",
            "correctAnswers": "8",
            "accuracy": "0.8",
            "timeSpent": "42",
            "feedbackOverall": 'Line one\nline two, with "quotes"',
            "strengths": "Clear communication; SQL",
            "improvements": "Edge cases",
            "recommendations": "",
            "roundCount": "2",
            "rounds": "coding: score 75, answered 3/4, 30 min; hr: score 90",
        }
    ]


def test_export_leaves_unrecorded_values_empty(client, alice):
    completed(client, alice, score=60)
    (row,) = download(client, alice)
    assert row["score"] == "60"
    assert row["timeSpent"] == "" and row["roundCount"] == "" and row["rounds"] == ""
    assert row["accuracy"] == "" and row["feedbackOverall"] == ""


@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)",
                                     "\tcmd", "\r=1"])  # fmt: skip
def test_export_neutralises_formula_cells(client, alice, hostile):
    completed(
        client,
        alice,
        interview={"jobTitle": hostile, "companyName": hostile},
        feedback={"overall": hostile, "strengths": [hostile], "improvements": ["fine", hostile]},
        roundResults=[{"roundType": hostile, "score": 50}],
    )
    (row,) = download(client, alice)
    for column in ("jobTitle", "companyName", "feedbackOverall", "strengths", "rounds"):
        assert row[column] == "'" + row[column][1:] and row[column][1:].startswith(hostile)
    assert row["improvements"] == f"fine; {hostile}"


def test_export_applies_filters_and_sort(app, client, alice):
    for offset, (score, kind) in enumerate([(50, "technical"), (90, "dsa"), (70, "technical")]):
        saved = completed(client, alice, score=score, interview={"interviewType": kind})
        backdate(app, saved["performanceId"], day(offset))
    assert [row["score"] for row in download(client, alice)] == ["70", "90", "50"]
    technical = download(client, alice, interviewType="technical", sort="score")
    assert [row["score"] for row in technical] == ["50", "70"]
    ranged = download(client, alice, **{"from": iso(day(1))})
    assert [row["completedAt"] for row in ranged] == [iso(day(2)), iso(day(1))]


def test_export_streams_many_rows_in_chunks(app, client, alice, monkeypatch):
    monkeypatch.setattr(export, "ROWS_PER_CHUNK", 2)
    for score in range(5):
        completed(client, alice, score=score)
    response = client.get("/api/performances/export.csv", headers=alice)
    chunks = list(response.response)
    assert len(chunks) == 3  # header + 2 rows, 2 rows, 1 row
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode(), newline="")))
    assert sorted(row[7] for row in rows[1:]) == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("query", ["interviewType=x", "limit=5", "cursor=abc", "sort=title"])
def test_export_with_bad_query_is_422(client, alice, query):
    response = client.get(f"/api/performances/export.csv?{query}", headers=alice)
    assert response.status_code == 422
    assert response.get_json()["success"] is False
