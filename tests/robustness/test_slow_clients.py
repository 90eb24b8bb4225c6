"""gunicorn serving directly (as `make run` does, without nginx) stays responsive while clients
dribble request bodies: config/gunicorn.conf.py bounds how long a body may take."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from scripts.devserver import free_port
from tests.conftest import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SLOW_CLIENTS = 32
ANSWER_WITHIN = 5  # seconds: generous on a loaded machine, far below "stuck"


@pytest.fixture
def gunicorn_url(tmp_path):
    """gunicorn with config/gunicorn.conf.py on a loopback port (testing settings, no database)."""
    port = free_port()
    env = {**os.environ, "APP_ENV": "testing", "HOST": "127.0.0.1", "PORT": str(port)}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    log = open(tmp_path / "gunicorn.log", "wb")
    process = subprocess.Popen(
        [BIN / "gunicorn", "-c", ROOT / "config" / "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: healthz_answers(url), 60), (tmp_path / "gunicorn.log").read_text()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def healthz_answers(url, timeout=2):
    try:
        return requests.get(f"{url}/healthz", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def dribble(url, stop, interval=0.5):
    """Send a request head announcing a 64 KiB JSON body, then one byte of it per `interval`."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(
            b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n["
        )
        while not stop.wait(interval):
            try:
                connection.sendall(b" ")
            except OSError:
                return  # the server gave up on this body: what the configuration is for


def test_healthz_answers_while_32_clients_dribble_bodies(gunicorn_url, record_property):
    stop = threading.Event()
    dribblers = [
        threading.Thread(target=dribble, args=(gunicorn_url, stop), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    for thread in dribblers:
        thread.start()
    try:
        time.sleep(1)  # every dribbler has sent its head and holds a connection
        waits = []
        for _ in range(5):
            started = time.monotonic()
            response = requests.get(f"{gunicorn_url}/healthz", timeout=ANSWER_WITHIN)
            waits.append(round(time.monotonic() - started, 3))
            assert response.status_code == 200
            time.sleep(0.5)
        record_property("healthz_seconds", waits)
    finally:
        stop.set()
        for thread in dribblers:
            thread.join(timeout=10)
