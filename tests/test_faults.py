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
from tests.conftest import WIRE_OPTIONS, make_app

pytestmark = pytest.mark.wire

TIMEOUT_MS = 1000  # MONGODB_TIMEOUT_MS of the apps under fault: every answer must beat it
SELECTION_TIMEOUT_MS = 500
RECOVERY_BUDGET_SECONDS = 10
ERROR_KEYS = {"success", "code", "status", "message", "error"}

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


@pytest.fixture
def admin(wire_server):
    """The fault injector: a client of its own on the shared wire server."""
    with pymongo.MongoClient(
        wire_server["uri"], directConnection=True, appname="fault-injector"
    ) as client:
        yield client.admin


@pytest.fixture
def fault_app(wire_uri):
    """The app on the wire server with short timeouts, so a fault answers quickly."""
    application = make_app(
        wire_uri,
        MONGODB_TIMEOUT_MS=TIMEOUT_MS,
        MONGODB_SERVER_SELECTION_TIMEOUT_MS=SELECTION_TIMEOUT_MS,
    )
    yield application
    db.disconnect()


def probe_collection():
    """A collection on the app's own connection (the driver path every service uses)."""
    return db.database()["fault_probe"]


def assert_unavailable(response, elapsed, budget):
    """The standard 503 answer, given within `budget` seconds."""
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
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    # The time limit plus one server selection (a dropped connection is retried once).
    assert_unavailable(response, elapsed, (TIMEOUT_MS + SELECTION_TIMEOUT_MS) / 1000 + 1)


@pytest.mark.parametrize("fault", PERSISTENT_FAULTS.values(), ids=PERSISTENT_FAULTS.keys())
def test_readyz_recovers_once_fault_clears(fault_app, admin, fault):
    client = fault_app.test_client()
    with failpoint(admin, fault_app, "alwaysOn", ["ping"], **fault):
        assert client.get("/readyz").status_code == 503
    assert wait_for_status(client, "/readyz", 200, RECOVERY_BUDGET_SECONDS) is not None


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
    own_database, stop_signal, record_property
):
    uri = f"{own_database.uri}/outage?{WIRE_OPTIONS}"
    app = make_app(
        uri, MONGODB_TIMEOUT_MS=TIMEOUT_MS, MONGODB_SERVER_SELECTION_TIMEOUT_MS=SELECTION_TIMEOUT_MS
    )
    client = app.test_client()
    try:
        probe = probe_collection()
        written = [probe.insert_one({"n": n}).inserted_id for n in range(200)]
        assert client.get("/readyz").status_code == 200

        own_database.stop(stop_signal)
        started = time.monotonic()
        response = client.get("/readyz")
        assert_unavailable(response, time.monotonic() - started, TIMEOUT_MS / 1000 + 1)
        assert client.get("/healthz").status_code == 200  # liveness must not follow the database

        own_database.start()
        recovery = wait_for_status(client, "/readyz", 200, RECOVERY_BUDGET_SECONDS)
        record_property("recovery_seconds", recovery)
        assert recovery is not None
        assert sorted(doc["_id"] for doc in probe.find({}, {"_id": 1})) == sorted(written)
    finally:
        db.disconnect()
