"""Interview lifecycle, the legacy dashboard paths, authentication and ownership."""

import pytest
from bson import ObjectId

from tests.factories import collect_pages, create_interview, interview_body, save_performance

MISSING_ID = str(ObjectId())


def test_create_interview_answers_201_ready(client, alice):
    response = client.post("/api/interviews", json=interview_body(), headers=alice)
    body = response.get_json()
    assert response.status_code == 201
    assert body["success"] is True
    interview = body["interview"]
    assert interview["status"] == "ready"
    assert interview["jobTitle"] == "Backend Engineer"
    assert interview["companyName"] == "Acme"
    assert interview["interviewType"] == "technical"
    assert interview["experienceLevel"] == "mid"
    assert interview["completedAt"] is None and interview["performanceId"] is None
    assert interview["createdAt"].endswith("Z")
    assert len(interview["id"]) == 24


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"interviewType": "trivia"}, "interviewType"),
        ({"experienceLevel": "guru"}, "experienceLevel"),
        ({"jobTitle": "   "}, "jobTitle"),
        ({"companyName": ""}, "companyName"),
        ({"companyName": "x" * 201}, "companyName"),
        ({"status": "completed"}, "status"),
    ],
)
def test_create_interview_with_bad_fields_is_422(client, alice, changes, field):
    response = client.post("/api/interviews", json=interview_body(**changes), headers=alice)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert client.get("/api/interviews", headers=alice).get_json()["items"] == []


def test_create_interview_without_required_field_is_422(client, alice):
    body = interview_body()
    del body["jobTitle"]
    response = client.post("/api/interviews", json=body, headers=alice)
    assert response.status_code == 422
    assert "jobTitle" in response.get_json()["errors"]


def test_get_interview_answers_it(client, alice):
    created = create_interview(client, alice)
    response = client.get(f"/api/interviews/{created['id']}", headers=alice)
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "interview": created}


@pytest.mark.parametrize("interview_id", [MISSING_ID, "not-an-id"], ids=["unknown", "malformed"])
def test_get_unknown_interview_is_404(client, alice, interview_id):
    response = client.get(f"/api/interviews/{interview_id}", headers=alice)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Interview not found"


def test_start_interview_moves_ready_to_in_progress(client, alice):
    created = create_interview(client, alice)
    response = client.patch(
        f"/api/interviews/{created['id']}", json={"status": "in-progress"}, headers=alice
    )
    assert response.status_code == 200
    assert response.get_json()["interview"]["status"] == "in-progress"


def test_start_interview_twice_is_409(client, alice):
    created = create_interview(client, alice)
    path = f"/api/interviews/{created['id']}"
    client.patch(path, json={"status": "in-progress"}, headers=alice)
    response = client.patch(path, json={"status": "in-progress"}, headers=alice)
    assert response.status_code == 409
    assert response.get_json()["success"] is False


@pytest.mark.parametrize("status", ["completed", "ready"])
def test_patch_to_other_status_is_409(client, alice, status):
    created = create_interview(client, alice)
    path = f"/api/interviews/{created['id']}"
    response = client.patch(path, json={"status": status}, headers=alice)
    assert response.status_code == 409
    assert client.get(path, headers=alice).get_json()["interview"]["status"] == "ready"


def test_start_completed_interview_is_409(client, alice):
    created = create_interview(client, alice)
    save_performance(client, alice, created["id"])
    response = client.patch(
        f"/api/interviews/{created['id']}", json={"status": "in-progress"}, headers=alice
    )
    assert response.status_code == 409
    assert "completed" in response.get_json()["message"]


def test_patch_with_unknown_status_is_422(client, alice):
    created = create_interview(client, alice)
    response = client.patch(
        f"/api/interviews/{created['id']}", json={"status": "paused"}, headers=alice
    )
    assert response.status_code == 422
    assert "status" in response.get_json()["errors"]


def test_list_interviews_is_newest_first_and_paged(client, alice):
    ids = [create_interview(client, alice, jobTitle=f"Job {n}")["id"] for n in range(5)]
    pages = collect_pages(client, "/api/interviews", alice, limit=2)
    assert [item["id"] for page in pages for item in page] == list(reversed(ids))


def test_list_interviews_filters_by_status(client, alice):
    ready = create_interview(client, alice)
    done = create_interview(client, alice)
    save_performance(client, alice, done["id"])
    response = client.get("/api/interviews?status=completed", headers=alice)
    assert response.status_code == 200
    assert [item["id"] for item in response.get_json()["items"]] == [done["id"]]
    ready_items = client.get("/api/interviews?status=ready", headers=alice).get_json()["items"]
    assert [item["id"] for item in ready_items] == [ready["id"]]


@pytest.mark.parametrize("query", ["status=paused", "limit=0", "limit=101", "cursor=%%%", "x=1"])
def test_list_interviews_with_bad_query_is_422(client, alice, query):
    response = client.get(f"/api/interviews?{query}", headers=alice)
    assert response.status_code == 422
    assert response.get_json()["success"] is False


def test_user_interviews_lists_open_ones_newest_first_with_counts(client, alice):
    first = create_interview(client, alice)
    second = create_interview(client, alice)
    client.patch(f"/api/interviews/{second['id']}", json={"status": "in-progress"}, headers=alice)
    done = create_interview(client, alice)
    save_performance(client, alice, done["id"])
    response = client.get("/api/user-interviews", headers=alice)
    body = response.get_json()
    assert response.status_code == 200
    assert body["success"] is True
    assert [item["id"] for item in body["interviews"]] == [second["id"], first["id"]]
    assert body["stats"] == {"total": 3, "completed": 1, "inProgress": 2}  # ready + in-progress


def test_user_interviews_honours_limit(client, alice):
    for _ in range(3):
        create_interview(client, alice)
    body = client.get("/api/user-interviews?limit=2", headers=alice).get_json()
    assert len(body["interviews"]) == 2
    assert body["stats"]["total"] == 3


def test_delete_interview_answers_message_and_removes_it(client, alice):
    created = create_interview(client, alice)
    response = client.delete(f"/api/interviews/{created['id']}", headers=alice)
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "message": "Interview deleted"}
    assert client.get(f"/api/interviews/{created['id']}", headers=alice).status_code == 404


def test_legacy_delete_takes_the_id_from_the_json_body(client, alice):
    created = create_interview(client, alice)
    response = client.delete(
        "/api/delete-interview", json={"interviewId": created["id"]}, headers=alice
    )
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "message": "Interview deleted"}
    assert client.get("/api/user-interviews", headers=alice).get_json()["interviews"] == []


def test_legacy_delete_takes_the_id_from_the_query(client, alice):
    created = create_interview(client, alice)
    response = client.delete(f"/api/delete-interview?interviewId={created['id']}", headers=alice)
    assert response.status_code == 200
    assert response.get_json()["message"] == "Interview deleted"
    assert client.get(f"/api/interviews/{created['id']}", headers=alice).status_code == 404


def test_legacy_delete_without_id_is_422(client, alice):
    response = client.delete("/api/delete-interview", headers=alice)
    assert response.status_code == 422
    assert "interviewId" in response.get_json()["errors"]


def test_legacy_delete_with_conflicting_ids_is_422(client, alice):
    first = create_interview(client, alice)
    second = create_interview(client, alice)
    response = client.delete(
        f"/api/delete-interview?interviewId={first['id']}",
        json={"interviewId": second["id"]},
        headers=alice,
    )
    assert response.status_code == 422
    assert len(client.get("/api/interviews", headers=alice).get_json()["items"]) == 2


def test_legacy_delete_of_unknown_interview_is_404(client, alice):
    response = client.delete(
        "/api/delete-interview", json={"interviewId": MISSING_ID}, headers=alice
    )
    assert response.status_code == 404
    assert response.get_json()["success"] is False


def test_delete_interview_removes_its_performance_from_lists_and_stats(client, alice):
    kept = create_interview(client, alice)
    save_performance(client, alice, kept["id"], score=40)
    gone = create_interview(client, alice)
    saved = save_performance(client, alice, gone["id"], score=90)
    client.delete("/api/delete-interview", json={"interviewId": gone["id"]}, headers=alice)
    listed = client.get("/api/performances", headers=alice).get_json()["items"]
    stats = client.get("/api/performance-stats", headers=alice).get_json()
    assert [item["interviewId"] for item in listed] == [kept["id"]]
    assert stats["summary"]["completedInterviews"] == 1
    assert stats["summary"]["bestScore"] == 40
    perf = client.get(f"/api/performances/{saved['performanceId']}", headers=alice)
    assert perf.status_code == 404


# --- authentication and ownership ---------------------------------------------------------

ROUTES = [
    ("get", "/api/interviews", None),
    ("post", "/api/interviews", interview_body()),
    ("get", "/api/interviews/{interview}", None),
    ("patch", "/api/interviews/{interview}", {"status": "in-progress"}),
    ("delete", "/api/interviews/{interview}", None),
    ("put", "/api/interviews/{interview}/performance", {"score": 50}),
    ("get", "/api/user-interviews", None),
    ("delete", "/api/delete-interview", {"interviewId": "{interview}"}),
    ("post", "/api/save-performance", {"interviewId": "{interview}", "score": 50}),
    ("get", "/api/performances", None),
    ("get", "/api/performances/{performance}", None),
    ("get", "/api/performances/export.csv", None),
    ("get", "/api/performance-stats", None),
]


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_route_without_token_is_401(client, method, path, body):
    ids = {"interview": MISSING_ID, "performance": MISSING_ID}
    response = getattr(client, method)(_fill(path, ids), json=_fill(body, ids))
    assert response.status_code == 401
    assert response.get_json()["success"] is False
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_route_with_bad_token_is_401(client):
    response = client.get("/api/performance-stats", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.get_json()["code"] == 401


OWNED_ROUTES = [
    route for route in ROUTES if "{interview}" in str(route) or "{performance}" in str(route)
]


@pytest.mark.parametrize("method, path, body", OWNED_ROUTES)
def test_other_users_resource_is_404(client, alice, bob, method, path, body):
    interview = create_interview(client, alice)
    saved = save_performance(client, alice, interview["id"], score=88)
    ids = {"interview": interview["id"], "performance": saved["performanceId"]}
    response = getattr(client, method)(_fill(path, ids), json=_fill(body, ids), headers=bob)
    assert response.status_code == 404
    assert response.get_json()["success"] is False
    still = client.get(f"/api/interviews/{interview['id']}", headers=alice).get_json()
    assert still["interview"]["performanceId"] == saved["performanceId"]
    perf = client.get(f"/api/performances/{saved['performanceId']}", headers=alice).get_json()
    assert perf["performance"]["score"] == 88


def test_other_users_lists_and_stats_are_empty(client, alice, bob):
    interview = create_interview(client, alice)
    save_performance(client, alice, interview["id"])
    create_interview(client, alice)
    assert client.get("/api/interviews", headers=bob).get_json()["items"] == []
    assert client.get("/api/performances", headers=bob).get_json()["items"] == []
    dashboard = client.get("/api/user-interviews", headers=bob).get_json()
    assert dashboard["interviews"] == []
    assert dashboard["stats"] == {"total": 0, "completed": 0, "inProgress": 0}
    stats = client.get("/api/performance-stats", headers=bob).get_json()
    assert stats["summary"]["completedInterviews"] == 0
    assert stats["summary"]["activeInterviews"] == 0
    csv_text = client.get("/api/performances/export.csv", headers=bob).get_data(as_text=True)
    assert csv_text.count("\r\n") == 1
