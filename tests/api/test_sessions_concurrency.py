"""Sessions under real concurrency, on the wire server: atomic indexes, one winner per race."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from interview_service.sessions.models import Message
from interview_service.sessions.models import Session as SessionDocument
from tests.conftest import bearer
from tests.factories import SESSION_CONFIG, create_session

pytestmark = pytest.mark.wire

THREADS = 16


@pytest.fixture
def alice(wire_app):
    """Headers of the user under test, on the wire app."""
    return bearer(wire_app.config, "alice")


def race(count, action):
    """Run action(n) for n in 0..count-1 on THREADS threads, released together."""
    barrier = threading.Barrier(min(count, THREADS))

    def run(number):
        if number < THREADS:
            barrier.wait(timeout=30)
        return action(number)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(run, range(count)))


def stored_indexes(session_id):
    return sorted(m.message_index for m in Message.objects(session_id=session_id))


def test_concurrent_appends_get_gap_free_indexes_and_exact_statistics(wire_app, alice):
    session_id = create_session(wire_app.test_client(), alice)
    path = f"/api/sessions/{session_id}/conversations"

    def body(number):
        if number % 4 == 0:
            return {"role": "assistant", "content": f"Q{number}?", "metadata": {"isQuestion": True}}
        if number % 4 == 1:
            return {"role": "assistant", "content": f"Remark {number}"}
        return {"role": "user", "content": f"Answer {number}"}

    def post(number):
        response = wire_app.test_client().post(path, json=body(number), headers=alice)
        return response.status_code, response.get_json()["messageIndex"]

    results = race(200, post)
    assert {status for status, _ in results} == {201}
    assert sorted(index for _, index in results) == list(range(200))
    assert stored_indexes(session_id) == list(range(200))
    session = wire_app.test_client().get(f"/api/sessions/{session_id}", headers=alice).get_json()
    assert session["session"]["statistics"] == {
        "questionCount": 50,
        "totalMessages": 200,
        "userMessages": 100,
        "agentMessages": 100,
    }


def test_racing_retries_of_one_message_store_it_once_without_gaps(wire_app, alice):
    session_id = create_session(wire_app.test_client(), alice)
    path = f"/api/sessions/{session_id}/conversations"

    def post(number):
        # Half the threads retry one message; the others append distinct messages.
        message = {"role": "user", "content": f"m{number}"}
        if number % 2 == 0:
            message = {"role": "user", "content": "retried", "clientMessageId": "the-one"}
        response = wire_app.test_client().post(path, json=message, headers=alice)
        return number % 2 == 0, response.status_code, response.get_json()["messageIndex"]

    results = race(THREADS, post)
    retried = {index for is_retry, _, index in results if is_retry}
    assert {status for _, status, _ in results} == {201}
    assert len(retried) == 1
    assert Message.objects(session_id=session_id, client_message_id="the-one").count() == 1
    assert stored_indexes(session_id) == list(range(THREADS // 2 + 1))
    statistics = SessionDocument.objects.get(session_id=session_id).statistics
    assert statistics.total_messages == statistics.user_messages == THREADS // 2 + 1


def test_racing_different_ends_have_exactly_one_winner(wire_app, alice):
    for _ in range(5):
        session_id = create_session(wire_app.test_client(), alice)
        path = f"/api/sessions/{session_id}/end"
        statuses = ["completed", "abandoned"]

        def end(number, path=path, statuses=statuses):
            response = wire_app.test_client().put(
                path, json={"status": statuses[number]}, headers=alice
            )
            return response.status_code, statuses[number]

        results = race(2, end)
        assert sorted(status for status, _ in results) == [200, 409]
        winner = next(kind for status, kind in results if status == 200)
        assert SessionDocument.objects.get(session_id=session_id).status == winner


def test_appends_racing_the_end_stay_gap_free(wire_app, alice):
    session_id = create_session(wire_app.test_client(), alice)

    def act(number):
        client = wire_app.test_client()
        if number == THREADS // 2:
            return client.put(f"/api/sessions/{session_id}/end", json={}, headers=alice).status_code
        path = f"/api/sessions/{session_id}/conversations"
        return client.post(path, json={"role": "user", "content": "x"}, headers=alice).status_code

    counts = Counter(race(THREADS * 2, act))
    stored = stored_indexes(session_id)
    assert set(counts) <= {200, 201, 409}
    assert counts[200] == 1
    assert len(stored) == counts[201]
    assert stored == list(range(len(stored)))
    session = SessionDocument.objects.get(session_id=session_id)
    assert session.status == "completed"
    assert session.statistics.total_messages == len(stored)


def test_racing_creates_of_one_session_id_make_one_session(wire_app, alice):
    body = {"config": SESSION_CONFIG, "sessionId": "raced-create-000001"}

    def post(_):
        return wire_app.test_client().post("/api/sessions", json=body, headers=alice).status_code

    statuses = Counter(race(8, post))
    assert statuses == {201: 1, 200: 7}
    assert SessionDocument.objects(session_id="raced-create-000001").count() == 1
