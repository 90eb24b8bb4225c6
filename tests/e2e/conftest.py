"""The deployment under test: nginx (config/nginx.conf) → gunicorn (config/gunicorn.conf.py) →
SecantusDB, each a real process on a loopback port. `make e2e` runs these tests (E2E=1)."""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from scripts.devserver import free_port, stop
from tests.fake_llm import FakeProvider

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SPA_ORIGIN = "http://spa.e2e.test"
JWT_SECRET = "e2e-secret-0123456789abcdef0123456789abcdef"
WORKERS = 3


@dataclass
class Stack:
    """Where the running deployment answers, and where its processes log."""

    url: str  # nginx: what clients call
    gunicorn_url: str  # gunicorn directly (for tests that must reach every worker)
    mongodb_uri: str
    metrics_dir: Path
    app_log: Path
    nginx_access_log: Path
    provider: FakeProvider  # the fake OpenAI-compatible model gunicorn and the worker call
    worker_log: Path

    def app_log_lines(self):
        """The app's JSON log lines so far (gunicorn's plain lines, if any, are skipped)."""
        return [
            json.loads(line) for line in self.app_log.read_text().splitlines() if _is_json(line)
        ]

    def nginx_access_lines(self):
        return [json.loads(line) for line in self.nginx_access_log.read_text().splitlines()]


def _is_json(line):
    return line.startswith("{") and line.endswith("}")


def replace_once(text, old, new):
    """Replace `old`, which must occur exactly once (so an edit of the file fails loudly)."""
    if text.count(old) != 1:
        raise AssertionError(f"config/nginx.conf must contain {old!r} exactly once")
    return text.replace(old, new)


# Debian's stock default site (/etc/nginx/sites-available/default, comments left out), which a
# fresh `apt-get install nginx` enables.
DEBIAN_DEFAULT_SITE = """server {{
    listen 127.0.0.1:{port} default_server;
    root /var/www/html;
    index index.html index.htm index.nginx-debian.html;
    server_name _;
    location / {{
        try_files $uri $uri/ =404;
    }}
}}
"""


def render_nginx(directory, port, upstream_port, default_site=False):
    """config/nginx.conf on loopback ports in conf.d/ of a main config laid out as Debian's
    (conf.d, then sites-enabled) with its own pid/log/temp paths. Its sites-enabled/ is empty,
    as the README's install step leaves it, unless `default_site` puts Debian's there."""
    site = (ROOT / "config" / "nginx.conf").read_text()
    site = replace_once(
        site, "listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;"
    )
    site = replace_once(site, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
    site = replace_once(
        site, '"https://app.example.com" $http_origin;', f'"{SPA_ORIGIN}" $http_origin;'
    )
    site = replace_once(site, "/var/log/nginx/", f"{directory}/")
    for part in ("conf.d", "sites-enabled"):
        (directory / part).mkdir(exist_ok=True)
    (directory / "conf.d" / "interview-service.conf").write_text(site)
    if default_site:
        (directory / "sites-enabled" / "default").write_text(DEBIAN_DEFAULT_SITE.format(port=port))
    # Started by root, nginx's workers would run as nobody and not reach this private directory.
    user = "user root;" if os.geteuid() == 0 else ""
    main = f"""{user}
worker_processes 2;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
daemon off;
events {{ worker_connections 512; }}
http {{
    default_type application/octet-stream;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/conf.d/*.conf;
    include {directory}/sites-enabled/*;
}}
"""
    (directory / "nginx.conf").write_text(main)
    return directory / "nginx.conf"


def nginx_command():
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError("nginx not found: `make e2e` installs it (apt-get install nginx)")
    return found


def nginx_arguments(directory, config):
    """nginx's command line for a rendered config: prefix and error log in `directory`."""
    return [nginx_command(), "-p", directory, "-e", directory / "error.log", "-c", config]


def start_nginx(directory, upstream_port):
    """nginx with config/nginx.conf in front of `upstream_port`; returns (process, url)."""
    port = free_port()
    config = render_nginx(directory, port, upstream_port)
    log_path = directory / "nginx.out"
    process = start(nginx_arguments(directory, config), log_path)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/healthz", process, log_path)
    except BaseException:
        stop(process)
        raise
    return process, f"http://127.0.0.1:{port}"


def start(command, log_path, **kwargs):
    """Start a server process in its own session, its output in `log_path`."""
    log = open(log_path, "ab")
    return subprocess.Popen(
        [str(part) for part in command],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **kwargs,
    )


def wait_until_healthy(url, process, log_path, timeout=60, healthy=(200,)):
    """Poll `url` until it answers 200; fail with the process's log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}:\n{Path(log_path).read_text()}")
        try:
            if requests.get(url, timeout=2).status_code in healthy:
                return
        except requests.RequestException:  # not listening yet, or its workers still booting
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not healthy within {timeout}s:\n{Path(log_path).read_text()}")


def wait_until_answering(url, process, log_path):
    """Poll nginx until it answers at all (its upstream may be down on purpose)."""
    wait_until_healthy(url, process, log_path, healthy=(200, 503))


@pytest.fixture(scope="session")
def provider():
    """A fake OpenAI-compatible provider on loopback for the whole session."""
    with FakeProvider() as fake:
        yield fake


@pytest.fixture(scope="session")
def stack(wire_server, provider, tmp_path_factory):
    """nginx → gunicorn (production settings, several workers) + a feedback-worker →
    SecantusDB, for the session."""
    directory = tmp_path_factory.mktemp("e2e")
    metrics_dir = directory / "metrics"
    metrics_dir.mkdir()
    gunicorn_port = free_port()
    mongodb_uri = f"{wire_server['uri']}/e2e_{uuid.uuid4().hex[:8]}?directConnection=true"
    env = {
        **os.environ,
        "APP_ENV": "production",
        "MONGODB_URI": mongodb_uri,
        "JWT_SECRET": JWT_SECRET,
        "CORS_ORIGINS": SPA_ORIGIN,
        "HOST": "127.0.0.1",
        "PORT": str(gunicorn_port),
        "WEB_CONCURRENCY": str(WORKERS),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "RATE_LIMIT_ENABLED": "1",
        "RATE_LIMIT_DEFAULT": "100000 per minute",  # the whole suite comes from one address
        "LOG_LEVEL": "INFO",
        "LLM_BASE_URL": provider.url,
        "LLM_API_KEY": "e2e-key",
        "LLM_MODEL": "fake-model",
        "FEEDBACK_POLL_SECONDS": "0.2",
    }
    subprocess.run([BIN / "flask", "--app", "wsgi", "init-db"], cwd=ROOT, env=env, check=True)
    app_log = directory / "gunicorn.log"
    gunicorn = start(
        [BIN / "gunicorn", "-c", ROOT / "config" / "gunicorn.conf.py", "wsgi:app"],
        app_log,
        cwd=ROOT,
        env=env,
    )
    worker_log = directory / "feedback-worker.log"
    worker = start(
        [BIN / "flask", "--app", "wsgi", "feedback-worker"], worker_log, cwd=ROOT, env=env
    )
    nginx = None
    try:
        wait_until_healthy(f"http://127.0.0.1:{gunicorn_port}/healthz", gunicorn, app_log)
        nginx, nginx_url = start_nginx(directory, gunicorn_port)
        yield Stack(
            url=nginx_url,
            gunicorn_url=f"http://127.0.0.1:{gunicorn_port}",
            mongodb_uri=mongodb_uri,
            metrics_dir=metrics_dir,
            app_log=app_log,
            nginx_access_log=directory / "interview-service.access.log",
            provider=provider,
            worker_log=worker_log,
        )
    finally:
        if nginx is not None:
            stop(nginx)
        stop(gunicorn)
        stop(worker)


@pytest.fixture
def nginx_without_upstream(tmp_path):
    """config/nginx.conf in front of a port where nothing listens: nginx answers every request."""
    process, url = start_nginx(tmp_path, free_port())
    yield url
    stop(process)


@pytest.fixture
def token_for():
    """Mint a token the deployment accepts (same secret, HS256)."""
    from datetime import timedelta

    from interview_service.auth import issue_token

    def mint(user_id):
        return issue_token(user_id, {"JWT_SECRET": JWT_SECRET}, timedelta(hours=1))

    return mint
