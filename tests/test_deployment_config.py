"""config/gunicorn.conf.py and config/nginx.conf agree with the app's settings."""

import re
import runpy
from pathlib import Path

from config import Config

ROOT = Path(__file__).resolve().parent.parent


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
    (tmp_path / "m").mkdir()
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
