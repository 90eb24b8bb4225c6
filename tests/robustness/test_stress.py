"""Slow reliability runs (`make stress`): gunicorn through a database outage, live fuzzing.

The service runs as deployed: gunicorn with config/gunicorn.conf.py, several workers, on a
database process of the test's own, over loopback.
"""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from interview_service import auth
from scripts.devserver import free_port
from tests.conftest import WIRE_OPTIONS, bearer, wait_until
from tests.fake_llm import FakeProvider

pytestmark = [pytest.mark.stress, pytest.mark.wire]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "stress-secret-0123456789abcdef0123456789"
TIMEOUT_MS = 1000
RECOVERY_BUDGET_SECONDS = 15


@pytest.fixture
def gunicorn_service(own_database, tmp_path):
    """Start the service under gunicorn on `own_database`; yields a starter returning its URL."""
    started = []

    def start(workers, **settings):
        port = free_port()
        env = {
            **os.environ,
            "APP_ENV": "production",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "MONGODB_URI": f"{own_database.uri}/stress?{WIRE_OPTIONS}",
            "MONGODB_TIMEOUT_MS": str(TIMEOUT_MS),
            "MONGODB_SERVER_SELECTION_TIMEOUT_MS": "500",
            "JWT_SECRET": SECRET,
            "CORS_ORIGINS": "http://stress.test",
            "RATE_LIMIT_ENABLED": "false",
            "WEB_CONCURRENCY": str(workers),
            "LOG_LEVEL": "WARNING",
            **settings,
        }
        flask = [str(BIN / "flask"), "--app", "wsgi", "init-db"]
        subprocess.run(flask, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=open(tmp_path / "gunicorn.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: status_of(f"{base}/readyz") == 200, 60), "gunicorn never ready"
        # The first worker answers while the others still boot: wait for all of them.
        assert wait_until(lambda: len(worker_pids(process)) == workers, 60), "workers missing"
        return base, process

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def status_of(url):
    """The status `url` answers, or None when nothing answers."""
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return None


def worker_pids(master):
    """The gunicorn workers of `master`."""
    path = Path(f"/proc/{master.pid}/task/{master.pid}/children")
    return sorted(int(pid) for pid in path.read_text().split())


def timed_get(url):
    """(status, Retry-After, seconds) of one GET."""
    started = time.monotonic()
    response = requests.get(url, timeout=30)
    return response.status_code, response.headers.get("Retry-After"), time.monotonic() - started


@pytest.mark.parametrize(
    "stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"]
)
def test_workers_answer_503_through_outage_and_recover(
    own_database, gunicorn_service, stop_signal, record_property
):
    base, master = gunicorn_service(workers=3)
    workers = worker_pids(master)
    headers = bearer({"JWT_SECRET": SECRET}, "outage-user")

    def create_interview(_):
        body = {"jobTitle": "SRE", "companyName": "Acme", "interviewType": "technical"}
        body["experienceLevel"] = "mid"
        return requests.post(f"{base}/api/interviews", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        acknowledged = [
            answer.json()["interview"]["id"] for answer in pool.map(create_interview, range(40))
        ]
    own_database.stop(stop_signal)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(timed_get, [f"{base}/readyz"] * 60))
        refused = list(pool.map(create_interview, range(20)))
    assert {(status, retry.isdigit()) for status, retry, _ in answers} == {(503, True)}
    assert {(answer.status_code, "Retry-After" in answer.headers) for answer in refused} == {
        (503, True)
    }
    assert max(seconds for *_, seconds in answers) < TIMEOUT_MS / 1000 + 2
    assert status_of(f"{base}/healthz") == 200

    own_database.start()
    restarted = time.monotonic()

    def every_worker_ready():
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(status_of, [f"{base}/readyz"] * 30))
        return statuses == [200] * 30

    assert wait_until(every_worker_ready, RECOVERY_BUDGET_SECONDS)
    record_property("recovery_seconds", time.monotonic() - restarted)
    listed = requests.get(f"{base}/api/interviews?limit=100", headers=headers, timeout=30).json()
    assert sorted(item["id"] for item in listed["items"]) == sorted(acknowledged)
    assert worker_pids(master) == workers  # no worker hung long enough to be killed


@pytest.fixture
def provider():
    """A fake model server answering every generation with a valid report."""
    with FakeProvider() as fake:
        yield fake


def test_live_schemathesis_run_finds_nothing_for_either_user(gunicorn_service, provider, tmp_path):
    # With a provider, so the generate routes answer what they answer in production.
    base, _ = gunicorn_service(workers=1, LLM_BASE_URL=provider.url, LLM_API_KEY="fake-key")
    for user in ("stress-alice", "stress-bob"):
        token = auth.issue_token(user, {"JWT_SECRET": SECRET})
        command = [
            str(BIN / "schemathesis"),
            "run",
            f"{base}/api/openapi.json",
            "--checks",
            "all",
            # The service keeps rules a JSON schema cannot say (correctAnswers ≤ totalQuestions,
            # endTime after startTime, no lone surrogates or NUL): schema-valid bodies that
            # break them are rightly refused, so "valid data must be accepted" does not apply.
            # Other routes remove resources too (DELETE /api/me, the original API's
            # delete-interview): after one of them a 404 is right, which the check reads as a
            # lost resource.
            "--exclude-checks",
            "positive_data_acceptance,ensure_resource_availability",
            "--workers",
            "1",
            "--max-examples",
            os.environ.get("STRESS_MAX_EXAMPLES", "50"),
            "--header",
            f"Authorization: Bearer {token}",
            # Every request and answer, kept with the test's directory when it fails.
            "--report",
            "vcr",
            "--report-dir",
            str(tmp_path / user),
        ]
        run = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=tmp_path)
        (tmp_path / f"schemathesis-{user}.txt").write_text(run.stdout)
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
