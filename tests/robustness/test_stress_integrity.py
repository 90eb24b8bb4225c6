"""Integrity stress (`make stress`): racing deletes and database faults, many rounds, on loopback.

The app runs in process on the wire server with real threads; each test prints and records
its figures (races tried, faults met, lost writes, orphans, drift), which must all end at 0.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from interview_service.performance.models import Interview, Performance
from interview_service.sessions.models import Message
from interview_service.sessions.models import Session as SessionDocument
from tests.conftest import bearer
from tests.factories import SESSION_CONFIG, interview_body
from tests.robustness.test_faults import failpoint

pytestmark = [pytest.mark.stress, pytest.mark.wire]

ROUNDS = 20
APPENDERS = 8
SAVE_RACES = 40
FAULT_WRITERS = 8
FAULT_MESSAGES = 30  # per writer
FAULT_RETRIES = 20


def together(actions):
    """Run the callables at once (released by a barrier); their results in order."""
    barrier = threading.Barrier(len(actions))

    def run(action):
        barrier.wait(timeout=30)
        return action()

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(run, actions))


def report(record_property, **figures):
    """Record the figures in the JUnit report and print them for the run's log."""
    for name, value in figures.items():
        record_property(name, value)
    print(" ".join(f"{name}={value}" for name, value in figures.items()))


def test_appends_racing_deletes_never_reach_the_recreated_session(fault_app, record_property):
    alice, bob = bearer(fault_app.config, "alice"), bearer(fault_app.config, "bob")
    statuses, strays = Counter(), 0
    for number in range(ROUNDS):
        session_id = f"stress-reused-{number:08d}"
        body = {"config": SESSION_CONFIG, "sessionId": session_id}
        client = fault_app.test_client()
        assert client.post("/api/sessions", json=body, headers=alice).status_code == 201
        path = f"/api/sessions/{session_id}/conversations"

        def appender(n, path=path):
            message = {"role": "user", "content": f"alice {n}", "clientMessageId": f"c-{n}"}
            return lambda: fault_app.test_client().post(path, json=message, headers=alice)

        def deleter(session_id=session_id):
            return fault_app.test_client().delete(f"/api/sessions/{session_id}", headers=alice)

        answers = together([appender(n) for n in range(APPENDERS)] + [deleter])
        statuses.update(answer.status_code for answer in answers)

        assert client.post("/api/sessions", json=body, headers=bob).status_code == 201
        for n in range(3):  # the clientMessageIds alice used, stored as bob's own
            message = {"role": "user", "content": f"bob {n}", "clientMessageId": f"c-{n}"}
            assert client.post(path, json=message, headers=bob).status_code == 201
        answer = client.get(f"/api/sessions/{session_id}", headers=bob).get_json()
        assert [m["content"] for m in answer["conversations"]] == ["bob 0", "bob 1", "bob 2"]
        assert [m["messageIndex"] for m in answer["conversations"]] == [0, 1, 2]
        assert answer["session"]["statistics"]["totalMessages"] == 3
        live = SessionDocument.objects.get(session_id=session_id)
        strays += Message.objects(session_id=session_id, session_ref__ne=live.id).count()
    assert set(statuses) <= {201, 204, 404, 409}, statuses
    result = fault_app.test_cli_runner().invoke(args=["repair"])
    assert f"{strays} left by deleted sessions removed" in result.output, result.output
    report(
        record_property,
        races=ROUNDS,
        appends_after_delete_stored_as_strays=strays,
        leaked_into_recreated=0,
        server_errors=sum(count for status, count in statuses.items() if status >= 500),
    )


def test_saves_racing_deletes_leave_both_or_neither(fault_app, record_property):
    alice = bearer(fault_app.config, "alice")
    outcomes = Counter()
    for _ in range(SAVE_RACES):
        client = fault_app.test_client()
        created = client.post("/api/interviews", json=interview_body(), headers=alice)
        interview_id = created.get_json()["interview"]["id"]

        def save(interview_id=interview_id):
            body = {"interviewId": interview_id, "score": 70}
            return fault_app.test_client().post("/api/save-performance", json=body, headers=alice)

        def delete(interview_id=interview_id):
            path = f"/api/interviews/{interview_id}"
            return fault_app.test_client().delete(path, headers=alice)

        answers = together([save, save, delete])
        assert {answer.status_code for answer in answers} <= {200, 201, 404}
        state = (
            Interview.objects(id=interview_id).count(),
            Performance.objects(interview_id=interview_id).count(),
        )
        outcomes[state] += 1
    orphans = Performance.objects(interview_id__nin=list(Interview.objects.scalar("id"))).count()
    assert set(outcomes) <= {(0, 0)}, outcomes  # the delete always answers 200, so neither
    assert orphans == 0
    report(record_property, races=SAVE_RACES, orphans=orphans, both_or_neither=SAVE_RACES)


def test_appends_through_flapping_faults_keep_counters_and_transcript_agreeing(
    fault_app, admin, record_property
):
    alice = bearer(fault_app.config, "alice")
    client = fault_app.test_client()
    session_id = client.post(
        "/api/sessions", json={"config": SESSION_CONFIG}, headers=alice
    ).get_json()["sessionId"]
    path = f"/api/sessions/{session_id}/conversations"
    stop = threading.Event()
    faults = Counter()

    def writer(number):
        acknowledged = []
        for n in range(FAULT_MESSAGES):
            role = "assistant" if n % 2 else "user"
            message = {"role": role, "content": f"{number}-{n}", "clientMessageId": f"{number}-{n}"}
            for _ in range(FAULT_RETRIES):
                answer = fault_app.test_client().post(path, json=message, headers=alice)
                faults[answer.status_code] += 1
                if answer.status_code in (200, 201):
                    acknowledged.append(message["clientMessageId"])
                    break
                assert answer.status_code in (503, 409), answer.get_json()
        return acknowledged

    def flap():
        while not stop.is_set():
            mode = {"activationProbability": 0.3}
            with failpoint(admin, fault_app, mode, ["insert", "update"], closeConnection=True):
                stop.wait(0.3)
            stop.wait(0.3)

    flapper = threading.Thread(target=flap)
    flapper.start()
    try:
        with ThreadPoolExecutor(max_workers=FAULT_WRITERS) as pool:
            acknowledged = [ids for ids in pool.map(writer, range(FAULT_WRITERS))]
    finally:
        stop.set()
        flapper.join(timeout=30)

    acknowledged = {client_id for ids in acknowledged for client_id in ids}
    answer = client.get(f"/api/sessions/{session_id}", headers=alice).get_json()
    stored = {message["clientMessageId"] for message in answer["conversations"]}
    lost = acknowledged - stored
    statistics = answer["session"]["statistics"]
    drift_on_read = statistics["totalMessages"] - len(answer["conversations"])

    repaired = fault_app.test_cli_runner().invoke(args=["repair", "--settled-minutes", "0"])
    assert repaired.exit_code == 0, repaired.output
    session = SessionDocument.objects.get(session_id=session_id)
    indexes = {message["messageIndex"] for message in answer["conversations"]}
    gaps = session.next_message_index - len(indexes)
    drift_after_repair = session.statistics.total_messages - len(indexes)
    assert lost == set()
    assert drift_on_read == 0
    assert drift_after_repair == 0
    assert (f"gap: session {session_id}" in repaired.output) == (gaps > 0), repaired.output
    report(
        record_property,
        appends=FAULT_WRITERS * FAULT_MESSAGES,
        faults_answered_503=faults[503],
        lost_writes=len(lost),
        gaps_reported=gaps,
        drift_on_read=drift_on_read,
        drift_after_repair=drift_after_repair,
    )
