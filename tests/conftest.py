"""Fixture chain: database tier → app → client → users. A test that uses the database runs on
every tier, except in tests/unit, which runs on mongomock alone."""

import os
import signal
import time
import uuid
from pathlib import Path

import pymongo
import pytest

from interview_service import auth, create_app, db
from scripts.devserver import Database, free_port, secantus_server, server_version
from tests.factories import create_session

TESTS = Path(__file__).parent
WIRE_OPTIONS = "directConnection=true&serverMonitoringMode=poll&heartbeatFrequencyMS=500"

# tests/e2e needs nginx and starts the whole deployment: `make e2e` runs it (with E2E=1).
collect_ignore = [] if os.environ.get("E2E") else ["e2e"]


def wait_until(predicate, timeout, interval=0.1):
    """Poll `predicate` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def pytest_report_header(config):
    """Which SecantusDB server the wire tier runs on."""
    try:
        name, path = secantus_server()
    except RuntimeError as error:
        return f"wire tier: {error}"
    return f"wire tier: {name} {server_version(path)} ({path})"


@pytest.fixture(scope="session")
def wire_server(tmp_path_factory):
    """A SecantusDB process for the whole test session; yields its base URI."""
    database = Database(tmp_path_factory.mktemp("secantus"), test_commands=True)
    try:
        database.start()
        yield {"port": database.port, "uri": database.uri, "process": database.process}
    finally:
        database.stop()


TIERS = [
    pytest.param("mongomock", id="mongomock"),
    pytest.param("wire", id="wire", marks=pytest.mark.wire),
]
if os.environ.get("MONGODB_URI"):
    TIERS.append(pytest.param("mongodb", id="mongodb", marks=pytest.mark.wire))


def _wire_uri(base, name):
    return f"{base.rstrip('/')}/{name}?{WIRE_OPTIONS}"


# Its tests need no database, or mongomock at most: one run each. Everywhere else (tests/api,
# tests/robustness, a test file added anywhere) the database tests run on every tier.
SINGLE_TIER = TESTS / "unit"


def pytest_generate_tests(metafunc):
    """Parametrize `db_uri` over TIERS, except for the tests under SINGLE_TIER."""
    if "db_uri" in metafunc.fixturenames and not metafunc.definition.path.is_relative_to(
        SINGLE_TIER
    ):
        metafunc.parametrize("db_uri", TIERS, indirect=True)


@pytest.fixture
def db_uri(request):
    """A fresh, empty database on the tier under test (mongomock unless tiered); dropped after."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    tier = getattr(request, "param", "mongomock")
    if tier == "mongomock":
        yield f"mongomock://localhost/{name}"
        return
    if tier == "wire":
        base = request.getfixturevalue("wire_server")["uri"]
    else:
        base = os.environ["MONGODB_URI"].split("?")[0].rsplit("/", 1)[0]
    yield _wire_uri(base, name)
    with pymongo.MongoClient(base, directConnection=True, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(name)


@pytest.fixture
def wire_uri(wire_server):
    """A fresh database on the wire server only (concurrency and fault tests)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield _wire_uri(wire_server["uri"], name)
    with pymongo.MongoClient(wire_server["uri"], directConnection=True) as client:
        client.drop_database(name)


@pytest.fixture
def admin(wire_server):
    """The fault injector: a client of its own on the shared wire server."""
    with pymongo.MongoClient(
        wire_server["uri"], directConnection=True, appname="fault-injector"
    ) as client:
        yield client.admin


def app_on(uri, **overrides):
    """A testing app on `uri` (for module-level use; tests take the `make_app` fixture)."""
    return create_app("testing", MONGODB_URI=uri, **overrides)


def offline_app(name):
    """A testing app built at import, to parametrize tests over its routes or document; its
    connection is dropped at once (the tests' own apps connect)."""
    application = app_on(f"mongomock://localhost/{name}", CREATE_INDEXES_ON_START=False)
    db.disconnect()
    return application


@pytest.fixture
def make_app():
    """Build testing apps: `make_app(uri, **overrides)`; the connection is dropped afterwards."""
    yield app_on
    db.disconnect()


UNREACHABLE = {
    "MONGODB_SERVER_SELECTION_TIMEOUT_MS": 300,
    "MONGODB_TIMEOUT_MS": 500,
    "CREATE_INDEXES_ON_START": False,
}
LIMITS = {"RATE_LIMIT_ENABLED": True, "RATE_LIMIT_DEFAULT": "3 per minute"}


@pytest.fixture
def unreachable_app(make_app):
    """Build apps whose database nothing listens on, with short timeouts."""

    def build(**overrides):
        uri = f"mongodb://127.0.0.1:{free_port()}/down?directConnection=true"
        return make_app(uri, **UNREACHABLE, **overrides)

    return build


TIMEOUT_MS = 1000  # MONGODB_TIMEOUT_MS of the apps under fault: every answer must beat it
SELECTION_TIMEOUT_MS = 500


@pytest.fixture
def fault_app(wire_uri, make_app):
    """The app on the wire server with short timeouts, so a fault answers quickly."""
    return make_app(
        wire_uri,
        MONGODB_TIMEOUT_MS=TIMEOUT_MS,
        MONGODB_SERVER_SELECTION_TIMEOUT_MS=SELECTION_TIMEOUT_MS,
    )


@pytest.fixture
def app_settings():
    """Settings `app` and `wire_app` put over the testing config (a module may override it)."""
    return {}


@pytest.fixture
def app(db_uri, make_app, app_settings):
    """The app on the tier under test."""
    return make_app(db_uri, **app_settings)


@pytest.fixture
def wire_app(wire_uri, make_app, app_settings):
    """The app on the wire server (for tests that need real concurrency)."""
    return make_app(wire_uri, **app_settings)


@pytest.fixture
def client(app):
    """Flask test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Flask CLI runner."""
    return app.test_cli_runner()


def bearer(config, user_id):
    """The Authorization header of `user_id`, signed with `config`'s secret."""
    return {"Authorization": f"Bearer {auth.issue_token(user_id, config)}"}


@pytest.fixture
def headers_for(app):
    """Build the Authorization header of a user."""

    def build(user_id):
        return bearer(app.config, user_id)

    return build


@pytest.fixture
def alice(headers_for):
    """Headers of the user under test."""
    return headers_for("alice")


@pytest.fixture
def bob(headers_for):
    """Headers of another user."""
    return headers_for("bob")


@pytest.fixture
def session_id(client, alice):
    """A session of alice's."""
    return create_session(client, alice)


@pytest.fixture
def anonymous_id(client):
    """A session created without a token."""
    return create_session(client)


@pytest.fixture
def own_database(tmp_path):
    """A database process of this test alone; killed afterwards whatever happened."""
    database = Database(tmp_path / "db", durable=True)
    database.start()
    yield database
    database.stop(signal.SIGKILL)
