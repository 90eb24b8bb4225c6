"""`make run`: the embedded database (unless MONGODB_URI is set), the service under gunicorn and
one feedback-worker.

Ctrl-C, SIGTERM or SIGHUP (once or more) stops everything within 10 s: the signal handler only
records the request; the main loop stops the children, newest first, and exits once all are
gone. Killed outright, it takes its children along (they get SIGTERM when it dies).
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from devserver import (
    BIN,
    ROOT,
    Database,
    die_with_parent,
    port_in_use,
    stop,
    storage_in_use,
)
from dotenv import load_dotenv

from config.settings import RUNNING_DATABASE_URI_FILE

# Within 10 s in all: the worker first (a generation it drops is taken over by its lease), then
# gunicorn (its workers finish what is in flight), then the database.
STOP_TIMEOUTS = {"feedback-worker": 2, "gunicorn": 5}
STOP_TIMEOUT = 3
stop_requests = []


class StartupError(Exception):
    """A reason `make run` cannot start, said in one line."""


def request_stop(signum, frame):
    """Record the request; the main loop does the stopping (a second signal changes nothing)."""
    stop_requests.append(signum)


def start_database(env, children):
    """SecantusDB under DATA_DIR (var/), durable; sets MONGODB_URI and writes it for the CLI."""
    data = Path(env.get("DATA_DIR") or ROOT / "var")
    storage = data / "db"
    if storage_in_use(storage):
        raise StartupError(
            f"another `make run` uses {data} (its database holds {storage}): stop it, or "
            "start this one with DATA_DIR=<another directory>"
        )
    try:
        database = Database(storage, durable=True, log=data / "db.log")
    except RuntimeError as error:  # no SecantusDB installed
        raise StartupError(str(error)) from None
    try:
        database.start()
    except RuntimeError as error:
        raise StartupError(f"{database.name} did not start ({error}): see {database.log}") from None
    finally:
        if database.process:
            children.append(("database", database.process))
    env["MONGODB_URI"] = f"{database.uri}/interview_service?directConnection=true"
    (data / RUNNING_DATABASE_URI_FILE).write_text(env["MONGODB_URI"] + "\n")
    return database, data


def healthy(url):
    """Whether `url` answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def wait_until_healthy(url, server, host, port, timeout=60):
    """Block until `url` answers 200; StartupError if gunicorn exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not stop_requests and time.monotonic() < deadline:
        if server.poll() is not None:
            if port_in_use(port, host):
                raise StartupError(port_taken(port))
            raise StartupError(f"gunicorn exited with {server.returncode} (its log is above)")
        if healthy(url):
            return
        time.sleep(0.2)
    if not stop_requests:
        raise StartupError(f"{url} did not answer within {timeout}s")


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


def port_taken(port):
    """The one line for a port someone else listens on."""
    return f"port {port} is in use: stop what listens there, or choose another with PORT=<port>"


def serve(env, children):
    """Start everything, print the banner, then wait for a stop request or a child's exit."""
    host, port = env.setdefault("HOST", "127.0.0.1"), env.setdefault("PORT", "8000")
    if port_in_use(port, host):
        raise StartupError(port_taken(port))
    where = "MONGODB_URI from the environment"
    if not env.get("MONGODB_URI"):
        database, data = start_database(env, children)
        durability = "durable: --sync-on-commit"
        where = f"{database.name} ({durability}) on {database.uri}, data in {data}"
    init_db = [str(BIN / "flask"), "--app", "wsgi", "init-db"]
    if stop_requests or subprocess.run(init_db, cwd=ROOT, env=env).returncode != 0:
        raise StartupError("could not create the indexes (is the database reachable?)")
    gunicorn = [str(BIN / "gunicorn"), "-c", str(ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"]
    # Sessions of their own: a Ctrl-C to the terminal's group reaches only this script, which
    # then stops each child in order.
    server = subprocess.Popen(
        gunicorn, cwd=ROOT, env=env, start_new_session=True, preexec_fn=die_with_parent
    )
    children.append(("gunicorn", server))
    worker = [str(BIN / "flask"), "--app", "wsgi", "feedback-worker"]
    children.append(
        (
            "feedback-worker",
            subprocess.Popen(
                worker, cwd=ROOT, env=env, start_new_session=True, preexec_fn=die_with_parent
            ),
        )
    )
    base = f"http://{host}:{port}"
    wait_until_healthy(f"{base}/healthz", server, host, port)
    if stop_requests:
        return
    pids = ", ".join(f"{name} pid {process.pid}" for name, process in children)
    print(
        f"\ninterview-service on {base} ({pids})\n"
        f"  database: {where}\n"
        f"  API docs (Swagger UI): {base}/api/docs\n"
        f"  OpenAPI document:      {base}/api/openapi.json\n"
        f"  health:                {base}/healthz  {base}/readyz\n"
        "  demo data: make seed    a token for it: make token\n"
        f"    (or .venv/bin/flask --app wsgi issue-token <user>; APP_ENV={env['APP_ENV']})\n"
        f"  feedback generation:   {provider_status(env)}\n"
        "Ctrl-C stops the service, the feedback worker and the embedded database.\n",
        flush=True,
    )
    parent = os.getppid()
    while not stop_requests:
        if any(process.poll() is not None for _, process in children):
            exited = [name for name, process in children if process.poll() is not None]
            print(f"{', '.join(exited)} exited: stopping the rest", file=sys.stderr)
            return
        if os.getppid() != parent:  # `make` was killed without passing the signal on
            return
        time.sleep(0.2)


def shut_down(children, env):
    """Stop every child, newest first, each bounded; forget the database URI."""
    for name, process in reversed(children):
        stop(process, STOP_TIMEOUTS.get(name, STOP_TIMEOUT))
    uri_file = Path(env.get("DATA_DIR") or ROOT / "var") / RUNNING_DATABASE_URI_FILE
    if any(name == "database" for name, _ in children):
        uri_file.unlink(missing_ok=True)
    if children:
        names = " and ".join(name for name, _ in reversed(children))
        print(f"stopped {names}: nothing left running", flush=True)


def main():
    for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, request_stop)
    load_dotenv(ROOT / ".env")  # as the flask CLI and wsgi.py do: the environment wins
    env = dict(os.environ)
    env.setdefault("APP_ENV", "development")
    children = []  # (name, process) in start order
    failure = None
    try:
        serve(env, children)
    except StartupError as error:
        failure = str(error)
    finally:
        shut_down(children, env)
    if failure:
        sys.exit(f"make run: {failure}")


if __name__ == "__main__":
    main()
