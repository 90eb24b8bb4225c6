"""Database faults: one dropped connection or retryable error is survived, outages answer 503.

Faults are injected with SecantusDB's `configureFailPoint failCommand`, scoped by `appName` to
the app's own connections, so the injector's client and the test harness keep working. A
stopped database is a separate process on its own port and storage, restarted in place.
"""

import signal
import time
from contextlib import contextmanager

import pymongo
import pytest

from interview_service import db
from interview_service.sessions import service as sessions_service
from tests.conftest import SELECTION_TIMEOUT_MS, TIMEOUT_MS, WIRE_OPTIONS, bearer
from tests.factories import ERROR_KEYS, create_interview, create_session

pytestmark = pytest.mark.wire

RECOVERY_BUDGET_SECONDS = 10

# One fault per case; pymongo retries each once (retryWrites/retryReads are on in db.py).
# 91 ShutdownInProgress and 189 PrimarySteppedDown also make the driver rediscover the server.
TRANSIENT_FAULTS = {
    "dropped-connection": {"closeConnection": True},
    "shutdown-in-progress": {"errorCode": 91, "errorLabels": ["RetryableWriteError"]},
    "primary-stepped-down": {"errorCode": 189, "errorLabels": ["RetryableWriteError"]},
    "host-unreachable": {"errorCode": 6, "errorLabels": ["RetryableWriteError"]},
}

# Faults that never clear: the app must give up within its time limit and answer 503.
PERSISTENT_FAULTS = {
    "connection-always-dropped": {"closeConnection": True},
    "always-shutting-down": {"errorCode": 91},
    "slow-database": {"blockConnection": True, "blockTimeMS": TIMEOUT_MS * 4},
}


def app_name(app):
    """The driver appName of `app`'s connections (failpoints match on it)."""
    return db.client_options(app.config)["appname"]


@contextmanager
def failpoint(admin, app, mode, commands, **data):
    """Arm `failCommand` for `app`'s connections on `commands`; always disarm afterwards."""
    data = {"failCommands": commands, "appName": app_name(app), **data}
    admin.command({"configureFailPoint": "failCommand", "mode": mode, "data": data})
    try:
        yield
    finally:
        admin.command({"configureFailPoint": "failCommand", "mode": "off"})


def probe_collection():
    """A collection on the app's own connection (the driver path every service uses)."""
    return db.database()["fault_probe"]


# The time limit plus one server selection (a dropped connection is retried once).
FAULT_BUDGET_SECONDS = (TIMEOUT_MS + SELECTION_TIMEOUT_MS) / 1000 + 1


def assert_unavailable(request, budget=FAULT_BUDGET_SECONDS):
    """`request()` answers the standard 503 within `budget` seconds."""
    started = time.monotonic()
    response = request()
    elapsed = time.monotonic() - started
    body = response.get_json()
    assert response.status_code == 503, body
    assert response.headers["Retry-After"].isdigit()
    assert ERROR_KEYS <= set(body) and body["success"] is False
    assert elapsed < budget


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS.keys())
def test_insert_survives_one_fault_without_duplicate(fault_app, admin, fault):
    probe = probe_collection()
    with failpoint(admin, fault_app, {"times": 1}, ["insert"], **fault):
        probe.insert_one({"probe": "insert"})
    assert probe.count_documents({"probe": "insert"}) == 1


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS.keys())
def test_update_survives_one_fault_applied_once(fault_app, admin, fault):
    probe = probe_collection()
    probe.insert_one({"probe": "update", "count": 0})
    with failpoint(admin, fault_app, {"times": 1}, ["update"], **fault):
        probe.update_one({"probe": "update"}, {"$inc": {"count": 1}})
    assert probe.find_one({"probe": "update"})["count"] == 1


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS.keys())
def test_find_survives_one_fault(fault_app, admin, fault):
    probe = probe_collection()
    probe.insert_one({"probe": "find"})
    with failpoint(admin, fault_app, {"times": 1}, ["find"], **fault):
        found = probe.find_one({"probe": "find"})
    assert found["probe"] == "find"


@pytest.mark.parametrize("fault", PERSISTENT_FAULTS.values(), ids=PERSISTENT_FAULTS.keys())
def test_readyz_answers_503_within_timeout_under_persistent_fault(fault_app, admin, fault):
    client = fault_app.test_client()
    assert client.get("/readyz").status_code == 200
    with failpoint(admin, fault_app, "alwaysOn", ["ping"], **fault):
        assert_unavailable(lambda: client.get("/readyz"))


@pytest.mark.parametrize("fault", PERSISTENT_FAULTS.values(), ids=PERSISTENT_FAULTS.keys())
def test_readyz_recovers_once_fault_clears(fault_app, admin, fault):
    client = fault_app.test_client()
    with failpoint(admin, fault_app, "alwaysOn", ["ping"], **fault):
        assert client.get("/readyz").status_code == 503
    assert wait_for_status(client, "/readyz", 200, RECOVERY_BUDGET_SECONDS) is not None


# --- the same faults through the API --------------------------------------------------------

# The writes of an append (reserve indexes and count on the session with a conditional update,
# insert the message) and of an end (a conditional update), each with an equivalent command to
# check that an armed one-shot fault was used up.
PROBES = {
    "insert": lambda probe: probe.insert_one({}),
    "update": lambda probe: probe.update_one({"_id": 1}, {"$set": {"a": 1}}),
}
APPEND_COMMANDS = ["update", "insert"]


def assert_fault_used_up(wire_server, app, command):
    """The app met the one-shot fault: the same command now passes from a client with the app's
    appName and no retries (it would fail if the fault were still armed)."""
    with pymongo.MongoClient(
        wire_server["uri"],
        directConnection=True,
        appname=app_name(app),
        retryWrites=False,
        retryReads=False,
    ) as client:
        PROBES[command](client.fault_check.probe)


def append_one(client, session_id, headers):
    """Append one answer, made idempotent by its clientMessageId."""
    body = {"role": "user", "content": "My answer", "clientMessageId": "answer-1"}
    return client.post(f"/api/sessions/{session_id}/conversations", json=body, headers=headers)


def transcript_of(client, session_id, headers):
    """(messageIndexes, totalMessages) of the session as the API reads it back."""
    body = client.get(f"/api/sessions/{session_id}", headers=headers).get_json()
    indexes = [message["messageIndex"] for message in body["conversations"]]
    return indexes, body["session"]["statistics"]["totalMessages"]


@pytest.fixture
def fault_headers(fault_app):
    return bearer(fault_app.config, "fault-user")


@pytest.mark.parametrize("command", APPEND_COMMANDS)
@pytest.mark.parametrize("fault", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS.keys())
def test_append_survives_one_fault_on_each_of_its_writes(
    fault_app, admin, wire_server, fault_headers, command, fault
):
    client = fault_app.test_client()
    session_id = create_session(client, fault_headers)
    with failpoint(admin, fault_app, {"times": 1}, [command], **fault):
        response = append_one(client, session_id, fault_headers)
        assert_fault_used_up(wire_server, fault_app, command)
    assert response.status_code == 201, response.get_json()
    assert transcript_of(client, session_id, fault_headers) == ([0], 1)


@pytest.mark.parametrize("command", APPEND_COMMANDS)
def test_append_under_persistent_fault_answers_503_and_its_retry_lands_once(
    fault_app, admin, fault_headers, command
):
    # The driver retries within MONGODB_TIMEOUT_MS, then the app gives up with a 503.
    client = fault_app.test_client()
    session_id = create_session(client, fault_headers)
    with failpoint(admin, fault_app, "alwaysOn", [command], closeConnection=True):
        assert_unavailable(lambda: append_one(client, session_id, fault_headers))
    retried = append_one(client, session_id, fault_headers)
    assert retried.status_code in (200, 201), retried.get_json()
    assert retried.get_json()["messageIndex"] == 0
    assert transcript_of(client, session_id, fault_headers) == ([0], 1)


def test_outage_mid_append_leaves_statistics_agreeing_with_the_transcript_and_repair_reports_it(
    fault_app, admin, fault_headers, monkeypatch
):
    client = fault_app.test_client()
    session_id = create_session(client, fault_headers)
    assert append_one(client, session_id, fault_headers).status_code == 201
    insert = sessions_service._insert

    def insert_during_outage(*args):
        # The database goes away just after the reservation: the insert and the give-back fail.
        with failpoint(admin, fault_app, "alwaysOn", ["insert", "update"], closeConnection=True):
            return insert(*args)

    lost = {"role": "user", "content": "Lost", "clientMessageId": "lost-1"}
    path = f"/api/sessions/{session_id}/conversations"
    with monkeypatch.context() as patch:
        patch.setattr(sessions_service, "_insert", insert_during_outage)
        assert_unavailable(lambda: client.post(path, json=lost, headers=fault_headers))
    assert transcript_of(client, session_id, fault_headers) == ([0], 1)

    repaired = fault_app.test_cli_runner().invoke(args=["repair", "--settled-minutes", "0"])
    assert repaired.exit_code == 0, repaired.output
    assert f"gap: session {session_id} misses messageIndex 1" in repaired.output
    with fault_app.app_context():
        stored = sessions_service.Session.objects.get(session_id=session_id)
        assert (stored.statistics.total_messages, stored.next_message_index) == (1, 2)
    retried = client.post(path, json=lost, headers=fault_headers)
    assert retried.status_code == 201, retried.get_json()
    assert transcript_of(client, session_id, fault_headers) == ([0, 2], 2)


def end_session(client, session_id, headers):
    return client.put(f"/api/sessions/{session_id}/end", json={}, headers=headers)


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS.keys())
def test_end_survives_one_fault(fault_app, admin, wire_server, fault_headers, fault):
    client = fault_app.test_client()
    session_id = create_session(client, fault_headers)
    with failpoint(admin, fault_app, {"times": 1}, ["update"], **fault):
        response = end_session(client, session_id, fault_headers)
        assert_fault_used_up(wire_server, fault_app, "update")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["session"]["status"] == "completed"


def test_end_under_persistent_fault_answers_503_and_its_retry_ends_it(
    fault_app, admin, fault_headers
):
    client = fault_app.test_client()
    session_id = create_session(client, fault_headers)
    with failpoint(admin, fault_app, "alwaysOn", ["update"], closeConnection=True):
        assert_unavailable(lambda: end_session(client, session_id, fault_headers))
    retried = end_session(client, session_id, fault_headers)
    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json()["session"]["status"] == "completed"


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS.keys())
def test_reads_survive_one_fault(fault_app, admin, fault_headers, fault):
    client = fault_app.test_client()
    session_id = create_session(client, fault_headers)
    with failpoint(admin, fault_app, {"times": 1}, ["find", "aggregate"], **fault):
        response = client.get(f"/api/sessions/{session_id}", headers=fault_headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["session"]["sessionId"] == session_id


@pytest.mark.parametrize("fault", PERSISTENT_FAULTS.values(), ids=PERSISTENT_FAULTS.keys())
@pytest.mark.parametrize("path", ["/api/sessions", "/api/performances", "/api/performance-stats"])
def test_api_answers_503_within_timeout_under_persistent_fault(
    fault_app, admin, fault_headers, fault, path
):
    client = fault_app.test_client()
    assert client.get(path, headers=fault_headers).status_code == 200
    with failpoint(admin, fault_app, "alwaysOn", ["find", "aggregate"], **fault):
        assert_unavailable(lambda: client.get(path, headers=fault_headers))


# --- a database process that stops and comes back (the own_database fixture) -------------------


def wait_for_status(client, path, status, timeout):
    """Poll `path` until it answers `status`; the seconds it took, or None on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if client.get(path).status_code == status:
            return time.monotonic() - started
        time.sleep(0.05)
    return None


@pytest.mark.parametrize(
    "stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"]
)
def test_database_restart_is_recovered_without_losing_writes(
    make_app, own_database, stop_signal, record_property
):
    uri = f"{own_database.uri}/outage?{WIRE_OPTIONS}"
    app = make_app(
        uri, MONGODB_TIMEOUT_MS=TIMEOUT_MS, MONGODB_SERVER_SELECTION_TIMEOUT_MS=SELECTION_TIMEOUT_MS
    )
    client = app.test_client()
    headers = bearer(app.config, "outage-user")
    probe = probe_collection()
    written = [probe.insert_one({"n": n}).inserted_id for n in range(200)]
    created = [create_interview(client, headers)["id"] for _ in range(50)]
    assert client.get("/readyz").status_code == 200

    own_database.stop(stop_signal)
    assert_unavailable(lambda: client.get("/readyz"), TIMEOUT_MS / 1000 + 1)
    assert client.get("/healthz").status_code == 200  # liveness must not follow the database

    own_database.start()
    recovery = wait_for_status(client, "/readyz", 200, RECOVERY_BUDGET_SECONDS)
    record_property("recovery_seconds", recovery)
    assert recovery is not None
    assert sorted(doc["_id"] for doc in probe.find({}, {"_id": 1})) == sorted(written)
    listed = client.get("/api/interviews?limit=100", headers=headers).get_json()["items"]
    assert sorted(item["id"] for item in listed) == sorted(created)
