"""Cursors and paging integers are validated at the edge: anything forged is a 422, never a 500."""

from datetime import UTC, datetime

import pytest
from bson import ObjectId

from interview_service.pagination import encode_cursor
from tests.factories import collect_pages, completed, create_interview

NOW = datetime(2024, 3, 1, tzinfo=UTC)
NOT_A_NUMBER = [float("nan"), float("inf"), float("-inf"), 2**64, True]


def forged(value):
    """A well-formed cursor whose key is `value`."""
    return encode_cursor(value, ObjectId())


def assert_422(response, field):
    body = response.get_json()
    assert response.status_code == 422, body
    assert body["success"] is False and field in body["errors"]


@pytest.mark.parametrize("after", [2**63, 2**64, 10**30])
def test_transcript_after_past_64_bits_is_422(client, alice, session_id, after):
    response = client.get(f"/api/sessions/{session_id}/conversations?after={after}", headers=alice)
    assert_422(response, "after")


def test_transcript_after_at_the_64_bit_edge_is_an_empty_page(client, alice, session_id):
    response = client.get(
        f"/api/sessions/{session_id}/conversations?after={2**63 - 1}", headers=alice
    )
    assert response.status_code == 200
    assert response.get_json()["items"] == []


@pytest.mark.parametrize("value", ["3", NOW, 2.5, *NOT_A_NUMBER])
def test_transcript_cursor_of_a_forged_key_is_422(client, alice, session_id, value):
    response = client.get(
        f"/api/sessions/{session_id}/conversations",
        query_string={"cursor": forged(value)},
        headers=alice,
    )
    assert_422(response, "cursor")


@pytest.mark.parametrize("value", ["2024-03-01", 3, *NOT_A_NUMBER])
@pytest.mark.parametrize("path", ["/api/sessions", "/api/interviews"])
def test_list_cursor_of_a_forged_key_is_422(client, alice, path, value):
    response = client.get(path, query_string={"cursor": forged(value)}, headers=alice)
    assert_422(response, "cursor")


@pytest.mark.parametrize(
    "sort, value",
    [("score", v) for v in ["70", NOW, *NOT_A_NUMBER]]
    + [("-completedAt", v) for v in ["2024-03-01", 70, *NOT_A_NUMBER]],
)
def test_performance_cursor_of_a_forged_key_is_422(client, alice, sort, value):
    response = client.get(
        "/api/performances", query_string={"sort": sort, "cursor": forged(value)}, headers=alice
    )
    assert_422(response, "cursor")


def test_cursor_over_200_characters_is_422(client, alice):
    response = client.get("/api/sessions", query_string={"cursor": "A" * 201}, headers=alice)
    assert_422(response, "cursor")


def test_transcript_cursor_and_after_take_the_later_bound(client, alice, session_id):
    for number in range(6):
        body = {"role": "user", "content": f"m{number}"}
        client.post(f"/api/sessions/{session_id}/conversations", json=body, headers=alice)
    page = client.get(f"/api/sessions/{session_id}/conversations?limit=2", headers=alice).get_json()
    for after, expected in [(0, ["m2", "m3", "m4", "m5"]), (3, ["m4", "m5"])]:
        response = client.get(
            f"/api/sessions/{session_id}/conversations",
            query_string={"cursor": page["nextCursor"], "after": after},
            headers=alice,
        )
        assert [item["content"] for item in response.get_json()["items"]] == expected


def test_pages_of_a_filtered_list_cover_it_once(client, alice):
    """A cursor past the first page combined with date filters (the key's own bounds)."""
    saved = [completed(client, alice, score=60 + n)["performanceId"] for n in range(5)]
    create_interview(client, alice)
    query = {"limit": 2, "from": "2000-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"}
    pages = collect_pages(client, "/api/performances", alice, max_pages=len(saved), **query)
    assert [item["id"] for page in pages for item in page] == list(reversed(saved))
