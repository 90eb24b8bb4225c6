"""The deployment files: config/gunicorn.conf.py and config/nginx.conf agree with the app's
settings; the Dockerfile, docker-compose.yml, .env.example and constraints.txt hold together."""

import configparser
import json
import re
import runpy
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from config import Config

ROOT = Path(__file__).resolve().parents[2]


def load_gunicorn_config(monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))


def test_gunicorn_reads_workers_threads_and_bind_from_the_environment(monkeypatch, tmp_path):
    settings = load_gunicorn_config(
        monkeypatch,
        WEB_CONCURRENCY="5",
        GUNICORN_THREADS="8",
        HOST="0.0.0.0",
        PORT="9001",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    assert (settings["workers"], settings["threads"]) == (5, 8)
    assert settings["bind"] == "0.0.0.0:9001"
    assert settings["preload_app"] is False
    assert settings["accesslog"] is None


def test_gunicorn_start_clears_stale_metric_files(monkeypatch, tmp_path):
    settings = load_gunicorn_config(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "m"))
    assert (tmp_path / "m").is_dir()  # made on load: the log formatter imports the metrics
    (tmp_path / "m" / "counter_123.db").write_bytes(b"old")
    settings["on_starting"](None)
    assert list((tmp_path / "m").iterdir()) == []


def test_gunicorn_makes_a_metrics_directory_when_none_is_given(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # so that monkeypatch restores it after
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    settings = load_gunicorn_config(monkeypatch)
    directory = Path(settings["os"].environ["PROMETHEUS_MULTIPROC_DIR"])
    assert directory.is_dir()
    settings["on_exit"](None)
    assert not directory.exists()


def test_nginx_body_limit_matches_max_content_length():
    nginx = (ROOT / "config" / "nginx.conf").read_text()
    [size] = re.findall(r"client_max_body_size (\d+)m;", nginx)
    assert int(size) * 1024 * 1024 == Config.MAX_CONTENT_LENGTH


def dockerfile_instructions():
    """The Dockerfile as (INSTRUCTION, arguments) pairs, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(maxsplit=1)) for line in lines if line and not line.startswith("#")]


def constraints():
    """constraints.txt as {normalised name: version}."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def install_requires():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return [Requirement(line) for line in parser["options"]["install_requires"].split("\n") if line]


def test_constraints_pin_every_runtime_dependency_at_a_version_it_allows():
    pins = constraints()
    for requirement in install_requires():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), requirement


def test_constraints_are_what_the_tests_run_on():
    # make install installs with -c constraints.txt, so CI tests exactly these versions.
    for name, version in constraints().items():
        assert metadata.version(name) == version, name


def test_dockerfile_dependency_layer_installs_the_pins_before_the_code(tmp_path):
    instructions = dockerfile_instructions()
    [install] = [args for op, args in instructions if op == "RUN" and "constraints.txt" in args]
    copy_code = instructions.index(("COPY", "interview_service ./interview_service"))
    assert instructions.index(("RUN", install)) < copy_code
    assert ("COPY", "setup.cfg constraints.txt ./") in instructions[:copy_code]
    # The layer's own command turns setup.cfg into the requirement list it installs.
    snippet = re.search(r'python -c "([^"]+)"', install).group(1)
    shutil.copy(ROOT / "setup.cfg", tmp_path)
    listed = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert [Requirement(line) for line in listed.split("\n") if line.strip()] == install_requires()


def test_dockerfile_runs_gunicorn_as_a_user_with_a_home_and_a_healthcheck():
    instructions = dict(dockerfile_instructions())
    labels = instructions["LABEL"]
    assert instructions["USER"] == "app"
    assert "--create-home" in next(
        args for op, args in dockerfile_instructions() if op == "RUN" and "useradd" in args
    )
    assert "HOME=/home/app" in [args for op, args in dockerfile_instructions() if op == "ENV"]
    assert "/healthz" in instructions["HEALTHCHECK"]
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert json.loads(instructions["CMD"]) == [
        "gunicorn",
        "-c",
        "config/gunicorn.conf.py",
        "wsgi:app",
    ]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_mongodb_is_a_one_node_replica_set_the_services_use():
    services = compose()["services"]
    mongo = services["mongo"]
    replica_set = mongo["command"][mongo["command"].index("--replSet") + 1]
    initiate = " ".join(mongo["healthcheck"]["test"])
    assert mongo["image"].startswith("mongo:")
    assert f'rs.initiate({{_id: "{replica_set}"' in initiate
    for name in ("init-db", "api", "feedback-worker"):
        uri = services[name]["environment"]["MONGODB_URI"]
        assert uri.startswith("mongodb://mongo:27017/") and f"replicaSet={replica_set}" in uri


def test_compose_runs_the_service_the_worker_and_nginx_in_front():
    services = compose()["services"]
    assert services["feedback-worker"]["command"] == ["flask", "--app", "wsgi", "feedback-worker"]
    assert services["init-db"]["command"] == ["flask", "--app", "wsgi", "init-db"]
    assert services["api"]["depends_on"]["init-db"]["condition"] == "service_completed_successfully"
    nginx = services["nginx"]
    # nginx shares the api container's network, so config/nginx.conf's 127.0.0.1:8000 upstream
    # is gunicorn there, unedited.
    assert nginx["network_mode"] == "service:api"
    assert "./config/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert services["api"]["environment"]["HOST"] == "127.0.0.1"
    assert "server 127.0.0.1:8000;" in (ROOT / "config" / "nginx.conf").read_text()


def test_env_example_names_only_settings_the_service_reads():
    names = [
        line.lstrip("# ").split("=")[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and re.match(r"#? ?[A-Z_]+=", line)
    ]
    readme = (ROOT / "README.md").read_text()
    assert "JWT_SECRET" in names and "CORS_ORIGINS" in names
    for name in names:
        assert f"`{name}`" in readme or name == "HTTP_PORT", name
