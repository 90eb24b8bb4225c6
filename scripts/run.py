"""`make run`: the embedded database (unless MONGODB_URI is set), the service under gunicorn and
one feedback-worker.

Ctrl-C or SIGTERM stops them all; nothing is left running.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"embedded database exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"embedded database did not listen on {port} within {timeout}s")


def start_embedded_database():
    """Start SecantusDB on a free loopback port with its data under var/."""
    command = shutil.which("secantusd-py", path=str(BIN))
    if not command:
        sys.exit("secantusd-py not found: `make run` installs the `embedded` extra")
    data = Path(os.environ.get("DATA_DIR", ROOT / "var"))
    storage = data / "db"
    storage.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(data / "db.log", "ab")
    process = subprocess.Popen(
        [command, "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage)],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    wait_for_port(port, process)
    uri = f"mongodb://127.0.0.1:{port}/interview_service?directConnection=true"
    return process, uri


def stop(process, timeout=15):
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def provider_status(env):
    """Which model generates feedback, or how to configure one."""
    if env.get("LLM_API_KEY") or env.get("LLM_BASE_URL"):
        where = env.get("LLM_BASE_URL") or "OpenAI"
        return f"{env.get('LLM_MODEL') or 'gpt-4o-mini'} at {where}"
    return (
        "no provider configured (the generate routes answer 503); set LLM_API_KEY for OpenAI,\n"
        "    or LLM_BASE_URL (+ LLM_MODEL) for any OpenAI-compatible server, e.g.\n"
        "    LLM_BASE_URL=http://127.0.0.1:11434/v1 LLM_MODEL=llama3.1 for a local Ollama"
    )


def main():
    env = dict(os.environ)
    env.setdefault("APP_ENV", "development")
    port = env.setdefault("PORT", "8000")
    database = None
    if not env.get("MONGODB_URI"):
        database, env["MONGODB_URI"] = start_embedded_database()
        print(f"embedded database (SecantusDB) on {env['MONGODB_URI']}, pid {database.pid}")
    flask = [str(BIN / "flask"), "--app", "wsgi", "init-db"]
    if subprocess.run(flask, cwd=ROOT, env=env).returncode != 0:
        stop(database)
        sys.exit("could not create the indexes (is the database reachable?)")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [str(BIN / "flask"), "--app", "wsgi", "feedback-worker"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )

    def shutdown(signum, frame):
        stop(server)
        stop(worker)
        stop(database)
        sys.exit(0)

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    base = f"http://127.0.0.1:{port}"
    print(
        f"\ninterview-service on {base} (gunicorn pid {server.pid})\n"
        f"  API docs (Swagger UI): {base}/api/docs\n"
        f"  OpenAPI document:      {base}/api/openapi.json\n"
        f"  health:                {base}/healthz  {base}/readyz\n"
        f"  a token for user 'demo': .venv/bin/flask --app wsgi issue-token demo\n"
        f"    (same environment: APP_ENV={env['APP_ENV']}; JWT_SECRET from the environment)\n"
        f"  feedback generation:   {provider_status(env)} (feedback-worker pid {worker.pid})\n"
        "Ctrl-C stops the service, the worker and the embedded database.\n",
        flush=True,
    )
    parent = os.getppid()
    while server.poll() is None:
        if os.getppid() != parent:  # `make` was killed without passing the signal on
            shutdown(signal.SIGTERM, None)
        time.sleep(0.5)
    stop(worker)
    stop(database)
    sys.exit(server.returncode)


if __name__ == "__main__":
    main()
