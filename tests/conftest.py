"""Fixture chain: database tier → app → client → users; the API tests run on every tier."""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pymongo
import pytest

from interview_service import auth, create_app, db

WIRE_OPTIONS = "directConnection=true&serverMonitoringMode=poll&heartbeatFrequencyMS=500"

# tests/e2e needs nginx and starts the whole deployment: `make e2e` runs it (with E2E=1).
collect_ignore = [] if os.environ.get("E2E") else ["e2e"]


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, interval=0.1):
    """Poll `predicate` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def wait_for_port(port, process, timeout=30):
    """Block until something accepts on `port`; fail if `process` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout}s")


def secantus_command():
    """The SecantusDB daemon of this environment (the `embedded` extra)."""
    found = shutil.which("secantusd-py", path=str(Path(sys.executable).parent)) or shutil.which(
        "secantusd-py"
    )
    if not found:
        raise RuntimeError("secantusd-py not found: install the `embedded` extra (make test does)")
    return found


@pytest.fixture(scope="session")
def wire_server(tmp_path_factory):
    """A SecantusDB process for the whole test session; yields its base URI."""
    port = free_port()
    storage = tmp_path_factory.mktemp("secantus")
    process = subprocess.Popen(
        [
            secantus_command(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(storage),
            "--enable-test-commands",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield {"port": port, "uri": f"mongodb://127.0.0.1:{port}", "process": process}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


TIERS = [
    pytest.param("mongomock", id="mongomock"),
    pytest.param("wire", id="wire", marks=pytest.mark.wire),
]
if os.environ.get("MONGODB_URI"):
    TIERS.append(pytest.param("mongodb", id="mongodb", marks=pytest.mark.wire))


def _wire_uri(base, name):
    return f"{base.rstrip('/')}/{name}?{WIRE_OPTIONS}"


@pytest.fixture(params=TIERS)
def db_uri(request):
    """A fresh, empty database on each tier; dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    if request.param == "mongomock":
        yield f"mongomock://localhost/{name}"
        return
    if request.param == "wire":
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


def make_app(uri, **overrides):
    """A testing app on `uri`."""
    return create_app("testing", MONGODB_URI=uri, **overrides)


TIMEOUT_MS = 1000  # MONGODB_TIMEOUT_MS of the apps under fault: every answer must beat it
SELECTION_TIMEOUT_MS = 500


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


@pytest.fixture
def app(db_uri):
    """The app on the tier under test."""
    application = make_app(db_uri)
    yield application
    db.disconnect()


@pytest.fixture
def wire_app(wire_uri):
    """The app on the wire server (for tests that need real concurrency)."""
    application = make_app(wire_uri)
    yield application
    db.disconnect()


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


# SecantusDB buffers its log in process: without this flag a SIGKILL loses the writes of the
# last ~100 ms even though they were acknowledged (w:1 and, unlike mongod, w:majority too).
# `j: true` on each write closes the gap as well, at several times the cost per write.
DURABLE_FLAGS = ["--sync-on-commit"]


class DatabaseProcess:
    """A SecantusDB process on a fixed port and on-disk storage, which can stop and restart."""

    def __init__(self, command, storage):
        self.command = command
        self.storage = storage
        self.port = free_port()
        self.process = None

    @property
    def uri(self):
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self):
        """Start (or restart) on the same port and storage; return once it listens."""
        self.process = subprocess.Popen(
            [self.command, "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--storage-path", str(self.storage), *DURABLE_FLAGS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def stop(self, stop_signal):
        """Stop with `stop_signal` and wait for the process to exit."""
        self.process.send_signal(stop_signal)
        self.process.wait(timeout=30)


@pytest.fixture
def own_database(tmp_path):
    """A database process of this test alone; killed afterwards whatever happened."""
    database = DatabaseProcess(secantus_command(), tmp_path / "db")
    database.start()
    yield database
    if database.process.poll() is None:
        database.process.kill()
        database.process.wait()
