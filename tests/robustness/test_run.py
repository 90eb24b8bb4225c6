"""`make run` really starts the service on the embedded database, serves the operator commands
run beside it, fails to start in one clear line, and stops cleanly however often it is signalled."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymongo
import pytest
import requests

from config.settings import RUNNING_DATABASE_URI_FILE
from scripts.devserver import Database, free_port
from tests.conftest import wait_until
from tests.factories import interview_body

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STOP_BUDGET_SECONDS = 10
LOAD_WRITERS = 8
LOAD_WRITES_PER_WRITER = 2000  # an upper bound: the writers stop once the database is killed


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose; /proc tells us its state.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


class MakeRun:
    """`make run` in a process group of its own, on `port`, with its data under `data_dir`."""

    def __init__(self, port, data_dir, log_path):
        self.port, self.data_dir, self.log_path = port, data_dir, log_path
        self.env = {**os.environ, "PORT": str(port), "DATA_DIR": str(data_dir)}
        for name in ("MONGODB_URI", "APP_ENV", "SECANTUS_SERVER", "LLM_API_KEY", "LLM_BASE_URL"):
            self.env.pop(name, None)
        self.process = None
        self.pids = []

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def output(self):
        return self.log_path.read_text()

    def make(self, *targets, **kwargs):
        """Run other make targets (seed, token) in the same environment."""
        command = ["make", "--no-print-directory", "--silent", *targets]
        return subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, **kwargs)

    def start(self):
        self.log_path.write_text("")
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log_path, "a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for_banner(self, timeout=90):
        """Block until the banner is printed; return the pids it names (database, gunicorn,
        feedback-worker)."""
        assert wait_until(lambda: "Ctrl-C stops" in self.output(), timeout), self.output()
        self.pids = [int(pid) for pid in re.findall(r"pid (\d+)", self.output())]
        return self.pids

    def finish(self):
        """Whatever happened, leave nothing running."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pid in self.pids:  # each child runs in a session of its own
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def make_run(tmp_path):
    """A `make run` of this test (started by the test), stopped for good afterwards."""
    run = MakeRun(free_port(), tmp_path / "var", tmp_path / "run.log")
    yield run
    run.finish()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_make_run_serves_and_stops_cleanly_when_signalled_twice(make_run, stop_signal):
    make_run.start()
    pids = make_run.wait_for_banner()
    assert len(pids) == 3  # the database, gunicorn and the feedback-worker
    assert "no provider configured" in make_run.output() and "LLM_BASE_URL" in make_run.output()
    # The banner comes only once the service answers.
    assert requests.get(f"{make_run.base}/healthz", timeout=2).json() == {"success": True}
    assert requests.get(f"{make_run.base}/readyz", timeout=5).status_code == 200
    assert f"{make_run.base}/api/docs" in make_run.output() and "make token" in make_run.output()

    started = time.monotonic()
    os.killpg(make_run.process.pid, stop_signal)  # a supervisor (or Ctrl-C) signals the group
    time.sleep(0.3)
    os.killpg(make_run.process.pid, stop_signal)  # … and again, impatient
    make_run.process.wait(timeout=STOP_BUDGET_SECONDS + 5)
    took = time.monotonic() - started
    assert not any(alive(pid) for pid in pids), make_run.output()
    assert took < STOP_BUDGET_SECONDS, make_run.output()
    assert make_run.output().rstrip().splitlines()[-1].endswith("nothing left running")

    make_run.start()  # a restart on the same data and port works at once
    assert make_run.wait_for_banner(timeout=60)
    assert requests.get(f"{make_run.base}/readyz", timeout=5).status_code == 200


def test_operator_commands_reach_the_database_make_run_started(make_run):
    make_run.start()
    make_run.wait_for_banner()
    seeded = make_run.make("seed", timeout=120)
    assert seeded.returncode == 0, seeded.stderr.decode()
    token = make_run.make("token", timeout=60)
    assert token.returncode == 0, token.stderr.decode()
    headers = {"Authorization": f"Bearer {token.stdout.decode().strip()}"}
    stats = requests.get(f"{make_run.base}/api/performance-stats", headers=headers, timeout=10)
    assert stats.status_code == 200
    assert stats.json()["stats"]["totalInterviews"] == 12  # seed-demo's default count


def test_make_run_names_the_port_in_use(make_run):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", make_run.port))
        holder.listen()
        make_run.start()
        assert make_run.process.wait(timeout=60) != 0
    lines = [line for line in make_run.output().splitlines() if line.startswith("make run:")]
    assert len(lines) == 1, make_run.output()
    assert f"port {make_run.port} is in use" in lines[0] and "PORT=" in lines[0]


def test_make_run_says_another_one_uses_its_data_directory(make_run):
    holder = Database(make_run.data_dir / "db")
    holder.start()
    try:
        make_run.start()
        assert make_run.process.wait(timeout=60) != 0
    finally:
        holder.stop()
    lines = [line for line in make_run.output().splitlines() if line.startswith("make run:")]
    assert len(lines) == 1, make_run.output()
    assert "another `make run` uses" in lines[0] and "DATA_DIR=" in lines[0]


def test_make_run_database_killed_mid_load_keeps_every_acknowledged_write(
    make_run, record_property
):
    make_run.start()
    database_pid, *_ = make_run.wait_for_banner()
    token = make_run.make("token", timeout=60).stdout.decode().strip()
    headers = {"Authorization": f"Bearer {token}"}
    acknowledged, killed = [], threading.Event()

    def write(writer):
        with requests.Session() as http:
            for number in range(LOAD_WRITES_PER_WRITER):
                if killed.is_set():
                    return
                body = interview_body(jobTitle=f"writer {writer} #{number}")
                try:
                    response = http.post(
                        f"{make_run.base}/api/interviews", json=body, headers=headers, timeout=5
                    )
                except requests.RequestException:  # the service gave up on the dead database
                    return
                if response.status_code == 201:
                    acknowledged.append(response.json()["interview"]["id"])

    with ThreadPoolExecutor(LOAD_WRITERS) as pool:
        writers = [pool.submit(write, writer) for writer in range(LOAD_WRITERS)]
        assert wait_until(lambda: len(acknowledged) >= 50, 30)
        os.kill(database_pid, signal.SIGKILL)  # mid-load, writes in flight
        time.sleep(0.5)
        killed.set()
        for writer in writers:
            writer.result()
    make_run.process.wait(timeout=STOP_BUDGET_SECONDS + 5)  # make run stops once its database died

    make_run.start()  # the same data directory
    make_run.wait_for_banner()
    uri = (make_run.data_dir / RUNNING_DATABASE_URI_FILE).read_text().strip()
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        stored = {
            str(doc["_id"]) for doc in client.get_database()["interviews"].find({}, {"_id": 1})
        }
    lost = set(acknowledged) - stored
    record_property("acknowledged_writes", len(acknowledged))
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged writes lost"
