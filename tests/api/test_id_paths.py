"""Ids in paths go through one ObjectId converter: documented as 24 hex digits, and a segment
that is no id still answers 401 without a token and the resource's own 404 with one."""

import pytest

from interview_service.schemas import OBJECT_ID_PATTERN
from tests.factories import create_interview, create_session

MALFORMED = ["not-an-id", "665f1c2ab3d4e5f60123456", "665f1c2ab3d4e5f6012345678"]
ID_PARAMETERS = {
    "/api/interviews/{interview_id}": "interview_id",
    "/api/interviews/{interview_id}/performance": "interview_id",
    "/api/performances/{performance_id}": "performance_id",
    "/api/sessions/{session_id}/reports/{report_id}": "report_id",
}


def test_id_path_parameters_are_documented_as_24_hex_digits(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path, name in ID_PARAMETERS.items():
        [parameter] = [p for p in paths[path]["parameters"] if p["name"] == name]
        assert parameter["schema"] == {"type": "string", "pattern": OBJECT_ID_PATTERN}, path


@pytest.mark.parametrize("bad_id", MALFORMED)
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/interviews/{}"),
        ("DELETE", "/api/interviews/{}"),
        ("PUT", "/api/interviews/{}/performance"),
        ("GET", "/api/performances/{}"),
    ],
)
def test_malformed_id_without_token_answers_401(client, method, path, bad_id):
    body = {"json": {"score": 50}} if method == "PUT" else {}
    response = client.open(path.format(bad_id), method=method, **body)
    assert response.status_code == 401
    assert response.get_json()["type"] == "missing_token"


def owned_path(client, headers, resource, bad_id):
    """The path of `resource` (a performance, or a report of a new session) with `bad_id`."""
    if resource == "Performance":
        return f"/api/performances/{bad_id}"
    return f"/api/sessions/{create_session(client, headers)}/reports/{bad_id}"


@pytest.mark.parametrize("bad_id", MALFORMED)
@pytest.mark.parametrize("resource", ["Performance", "Report"])
def test_malformed_id_answers_the_resources_own_404(client, alice, resource, bad_id):
    response = client.get(owned_path(client, alice, resource, bad_id), headers=alice)
    assert (response.status_code, response.get_json()["error"]) == (404, f"{resource} not found")


def test_put_performance_with_a_malformed_path_id_and_a_body_id_is_422(client, alice):
    interview_id = create_interview(client, alice)["id"]
    response = client.put(
        "/api/interviews/not-an-id/performance",
        json={"interviewId": interview_id, "score": 50},
        headers=alice,
    )
    assert response.status_code == 422
    assert "interviewId" in response.get_json()["errors"]


def test_put_performance_with_the_path_id_in_upper_case_matches_the_body_id(client, alice):
    interview_id = create_interview(client, alice)["id"]
    response = client.put(
        f"/api/interviews/{interview_id.upper()}/performance",
        json={"interviewId": interview_id, "score": 50},
        headers=alice,
    )
    assert response.status_code == 201
    assert response.get_json()["performance"]["interviewId"] == interview_id


def test_report_generate_offers_only_its_own_methods(client, alice):
    """`reports/generate` is no report id: the report route leaves it to its sibling."""
    path = f"/api/sessions/{create_session(client, alice)}/reports/generate"
    assert set(client.options(path, headers=alice).headers["Allow"].split(", ")) == {
        "OPTIONS",
        "POST",
    }
    response = client.get(path, headers=alice)
    assert (response.status_code, response.get_json()["type"]) == (405, "method_not_allowed")
