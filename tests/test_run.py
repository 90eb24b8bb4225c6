"""`make run` really starts the service on the embedded database and stops cleanly."""

import os
import re
import signal
import subprocess

import pytest
import requests

from tests.conftest import free_port, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose; /proc tells us its state.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_make_run_serves_and_stops_cleanly(tmp_path, stop_signal):
    port = free_port()
    env = {**os.environ, "PORT": str(port), "DATA_DIR": str(tmp_path)}
    for name in ("MONGODB_URI", "APP_ENV", "LLM_API_KEY", "LLM_BASE_URL"):
        env.pop(name, None)
    log = open(tmp_path / "run.log", "w+")
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    pids = []
    try:

        def ready():
            try:
                return requests.get(f"{base}/readyz", timeout=2).status_code == 200
            except requests.RequestException:  # not listening yet, or a worker still booting
                return False

        assert wait_until(ready, 90), open(tmp_path / "run.log").read()
        assert requests.get(f"{base}/healthz", timeout=2).json() == {"success": True}
        output = open(tmp_path / "run.log").read()
        assert f"{base}/api/docs" in output and "issue-token" in output
        assert "no provider configured" in output and "LLM_BASE_URL" in output
        pids = [int(p) for p in re.findall(r"pid (\d+)", output)]
        assert len(pids) == 3  # the database, gunicorn and the feedback-worker
        if stop_signal == signal.SIGINT:
            os.killpg(make.pid, stop_signal)  # Ctrl-C: the terminal signals the whole group
        else:
            make.send_signal(stop_signal)
        assert wait_until(lambda: not any(alive(pid) for pid in pids), 30), output
        make.wait(timeout=10)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        # Failed before reading them: the children run in sessions of their own, find them.
        pids = pids or [int(p) for p in re.findall(r"pid (\d+)", open(tmp_path / "run.log").read())]
        for pid in pids:  # each runs in a session of its own
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
