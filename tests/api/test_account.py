"""The caller's whole data: streamed JSON export (GET /api/me/export) and DELETE /api/me."""

import json
import re
import types

from interview_service import modules
from interview_service.account import export
from interview_service.performance.models import Interview, Performance
from interview_service.sessions import retention
from interview_service.sessions.models import Message, Report
from interview_service.sessions.models import Session as SessionDocument
from tests.factories import add_messages, create_session, history

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def download(client, headers):
    """GET the export, check it is a streamed JSON attachment, return the parsed document."""
    response = client.get("/api/me/export", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.is_streamed
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def owned(client, headers):
    """The caller's exported data without the export's own timestamp."""
    document = download(client, headers)
    return {key: document[key] for key in ("sessions", "interviews", "performances")}


def ids(items, key="id"):
    return sorted(item[key] for item in items)


# --- export ------------------------------------------------------------------------------


def test_export_answers_a_streamed_json_attachment(client, alice):
    history(client, alice)
    response = client.get("/api/me/export", headers=alice)
    streamed = response.is_streamed  # reading the body below buffers it
    body = json.loads(response.get_data(as_text=True))
    assert response.status_code == 200
    assert streamed
    assert response.mimetype == "application/json"
    assert re.fullmatch(
        r'attachment; filename="interview-data-\d{8}T\d{6}Z\.json"',
        response.headers["Content-Disposition"],
    )
    assert list(body) == [
        "success",
        "userId",
        "exportedAt",
        "sessions",
        "interviews",
        "performances",
    ]
    assert body["success"] is True
    assert body["userId"] == "alice"
    assert ISO_Z.match(body["exportedAt"])


def test_export_contains_exactly_the_callers_data(client, alice, bob):
    mine = history(client, alice)
    history(client, bob, company="Globex")
    create_session(client)  # anonymous: nobody's export
    body = download(client, alice)
    assert sorted(item["session"]["sessionId"] for item in body["sessions"]) == sorted(
        mine["sessions"]
    )
    assert ids(body["interviews"]) == sorted(mine["interviews"])
    assert ids(body["performances"]) == sorted(mine["performances"])
    assert {item["session"]["userId"] for item in body["sessions"]} == {"alice"}
    assert {item["companyName"] for item in body["interviews"]} == {"Acme"}
    assert {item["companyName"] for item in body["performances"]} == {"Acme"}


def test_export_sessions_have_the_api_shapes(client, alice):
    mine = history(client, alice)
    body = download(client, alice)
    for item in body["sessions"]:
        session_id = item["session"]["sessionId"]
        detail = client.get(f"/api/sessions/{session_id}", headers=alice).get_json()
        reports = client.get(f"/api/sessions/{session_id}/reports", headers=alice).get_json()
        assert item["session"] == detail["session"]
        assert item["conversations"] == detail["conversations"]
        assert item["reports"] == reports["items"]
    talked = next(i for i in body["sessions"] if i["session"]["sessionId"] == mine["sessions"][0])
    assert [message["messageIndex"] for message in talked["conversations"]] == [0, 1, 2, 3]
    assert [report["reportType"] for report in talked["reports"]] == ["feedback", "summary"]
    assert talked["session"]["resume"] == {"fileName": "cv.txt", "content": "Ten years"}


def test_export_interviews_and_performances_have_the_api_shapes(client, alice):
    history(client, alice)
    body = download(client, alice)
    listed = client.get("/api/interviews", headers=alice).get_json()["items"]
    assert body["interviews"] == sorted(listed, key=lambda item: (item["createdAt"], item["id"]))
    for performance in body["performances"]:
        answer = client.get(f"/api/performances/{performance['id']}", headers=alice).get_json()
        assert performance == answer["performance"]
    assert body["performances"][0]["roundResults"][0]["roundType"] == "coding"
    assert body["performances"][0]["feedback"]["strengths"] == ["SQL"]


def test_export_lists_items_oldest_first(client, alice):
    first, second = create_session(client, alice), create_session(client, alice)
    body = download(client, alice)
    assert [item["session"]["sessionId"] for item in body["sessions"]] == [first, second]


def test_export_of_a_user_without_data_has_empty_lists(client, alice, bob):
    history(client, bob)
    body = download(client, alice)
    assert body["userId"] == "alice"
    assert (body["sessions"], body["interviews"], body["performances"]) == ([], [], [])


def test_export_is_written_in_chunks(client, alice, monkeypatch):
    monkeypatch.setattr(export, "CHUNK_CHARS", 256)
    session_id = create_session(client, alice)
    add_messages(client, session_id, alice, pairs=30)
    response = client.get("/api/me/export", headers=alice)
    chunks = list(response.response)
    document = json.loads(b"".join(chunk if isinstance(chunk, bytes) else chunk.encode()
                                   for chunk in chunks))  # fmt: skip
    assert response.status_code == 200
    assert len(chunks) > 10
    assert [m["messageIndex"] for m in document["sessions"][0]["conversations"]] == list(range(60))


def test_export_without_token_answers_401(client):
    response = client.get("/api/me/export")
    assert response.status_code == 401
    assert response.get_json()["success"] is False
    assert response.get_json()["error"] == "Missing bearer token"


def test_export_and_delete_are_documented_in_openapi(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    exported = paths["/api/me/export"]["get"]["responses"]["200"]
    assert exported["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AccountExport"
    }
    assert "Content-Disposition" in exported["headers"]
    deleted = paths["/api/me"]["delete"]["responses"]["200"]
    assert deleted["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AccountDeleted"
    }


# --- delete ------------------------------------------------------------------------------


def test_delete_me_answers_the_counts(client, alice):
    history(client, alice)
    response = client.delete("/api/me", headers=alice)
    assert response.status_code == 200
    assert response.get_json() == {
        "success": True,
        "deleted": {
            "sessions": 2,
            "conversations": 4,
            "reports": 2,
            "interviews": 2,
            "performances": 1,
        },
    }


def test_delete_me_removes_everything_the_caller_owns(client, alice):
    mine = history(client, alice)
    client.delete("/api/me", headers=alice)
    for session_id in mine["sessions"]:
        assert client.get(f"/api/sessions/{session_id}", headers=alice).status_code == 404
    assert SessionDocument.objects(user_id="alice").count() == 0
    assert Message.objects(session_id__in=mine["sessions"]).count() == 0
    assert Report.objects(session_id__in=mine["sessions"]).count() == 0
    assert Interview.objects(user_id="alice").count() == 0
    assert Performance.objects(user_id="alice").count() == 0
    body = download(client, alice)
    assert (body["sessions"], body["interviews"], body["performances"]) == ([], [], [])


def test_delete_me_leaves_other_users_data(client, alice, bob):
    history(client, alice)
    theirs = history(client, bob, company="Globex")
    before = owned(client, bob)
    client.delete("/api/me", headers=alice)
    after = owned(client, bob)
    assert after == before
    assert ids(after["interviews"]) == sorted(theirs["interviews"])
    stats = client.get("/api/performance-stats", headers=bob).get_json()
    assert stats["stats"]["totalInterviews"] == 1


def test_delete_me_with_a_body_answers_400_and_deletes_nothing(client, alice):
    history(client, alice)
    before = owned(client, alice)
    response = client.delete("/api/me", headers=alice, json={"confirm": True})
    assert response.status_code == 400
    assert response.get_json()["message"] == "This endpoint takes no request body"
    assert owned(client, alice) == before


def test_delete_me_with_query_parameters_answers_422_and_deletes_nothing(client, alice):
    history(client, alice)
    before = owned(client, alice)
    response = client.delete("/api/me?userId=bob", headers=alice)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"userId": ["Unknown field."]}
    assert owned(client, alice) == before


def test_delete_with_an_empty_body_still_works(client, alice):
    history(client, alice)
    response = client.delete(
        "/api/me", headers={**alice, "Content-Type": "application/json", "Content-Length": "0"}
    )
    assert response.status_code == 200
    assert response.get_json()["deleted"]["interviews"] == 2


def test_delete_me_leaves_anonymous_sessions(client, alice):
    anonymous = create_session(client)
    add_messages(client, anonymous)
    client.delete("/api/me", headers=alice)
    response = client.get(f"/api/sessions/{anonymous}")
    assert response.status_code == 200
    assert len(response.get_json()["conversations"]) == 2


def test_delete_me_again_answers_zero_counts(client, alice):
    history(client, alice)
    client.delete("/api/me", headers=alice)
    response = client.delete("/api/me", headers=alice)
    assert response.status_code == 200
    assert response.get_json()["deleted"] == {
        "sessions": 0,
        "conversations": 0,
        "reports": 0,
        "interviews": 0,
        "performances": 0,
    }


def test_delete_me_works_through_many_batches(client, alice, bob, monkeypatch):
    monkeypatch.setattr(retention, "DELETE_BATCH", 2)
    for _ in range(5):
        add_messages(client, create_session(client, alice), alice)
    kept = create_session(client, bob)
    response = client.delete("/api/me", headers=alice)
    assert response.status_code == 200
    assert response.get_json()["deleted"]["sessions"] == 5
    assert response.get_json()["deleted"]["conversations"] == 10
    assert SessionDocument.objects(user_id="alice").count() == 0
    assert SessionDocument.objects(session_id=kept).count() == 1


def test_delete_me_without_token_answers_401(client, alice):
    history(client, alice)
    response = client.delete("/api/me")
    assert response.status_code == 401
    assert response.get_json()["error"] == "Missing bearer token"
    assert SessionDocument.objects(user_id="alice").count() == 2


def test_delete_me_reaches_a_module_added_to_the_registry(client, alice, monkeypatch):
    deleted = []
    extra = types.SimpleNamespace(delete_user=lambda user: deleted.append(user) or {"notes": 3})
    monkeypatch.setattr(modules, "MODULES", (*modules.MODULES, extra))
    response = client.delete("/api/me", headers=alice)
    assert response.status_code == 200
    assert response.get_json()["deleted"]["sessions"] == 0
    assert len(deleted) == 1
