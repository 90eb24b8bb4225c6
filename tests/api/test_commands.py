"""Operator commands: purge (retention) and seed-demo, and every command's --help."""

import os
import random
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from config.settings import RUNNING_DATABASE_URI_FILE
from interview_service import demo
from interview_service.commands import COMMANDS
from interview_service.performance.models import Interview, Performance
from interview_service.sessions.models import Message, Report
from interview_service.sessions.models import Session as SessionDocument
from interview_service.sessions.retention import purge_older_than
from interview_service.times import now
from scripts.devserver import ROOT, free_port
from tests.factories import add_messages, add_report, create_session, history


def age(session_id, days):
    """Pretend the session was created `days` days ago."""
    SessionDocument.objects(session_id=session_id).update_one(
        set__created_at=now() - timedelta(days=days)
    )


def old_and_new(client, alice):
    """An old session with transcript and report, an old anonymous one, a recent one."""
    old = create_session(client, alice)
    add_messages(client, old, alice, pairs=2)
    add_report(client, old, alice)
    anonymous = create_session(client)
    add_messages(client, anonymous)
    recent = create_session(client, alice)
    add_messages(client, recent, alice)
    add_report(client, recent, alice)
    age(old, 40)
    age(anonymous, 31)
    age(recent, 29)
    return old, anonymous, recent


# --- purge -------------------------------------------------------------------------------


def test_purge_removes_old_sessions_with_their_children(runner, client, alice):
    old, anonymous, recent = old_and_new(client, alice)
    result = runner.invoke(args=["purge", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("removed sessions: 2, conversations: 6, reports: 1 ")
    assert SessionDocument.objects(session_id__in=[old, anonymous]).count() == 0
    assert Message.objects(session_id__in=[old, anonymous]).count() == 0
    assert Report.objects(session_id__in=[old, anonymous]).count() == 0


def test_purge_keeps_recent_sessions(runner, client, alice):
    _, _, recent = old_and_new(client, alice)
    runner.invoke(args=["purge", "--older-than", "30"])
    response = client.get(f"/api/sessions/{recent}", headers=alice)
    assert response.status_code == 200
    assert len(response.get_json()["conversations"]) == 2
    assert response.get_json()["report"]["reportType"] == "feedback"


def test_purge_keeps_interviews_and_performances(runner, client, alice):
    mine = history(client, alice)
    for session_id in mine["sessions"]:
        age(session_id, 400)
    result = runner.invoke(args=["purge", "--older-than", "365"])
    assert result.output.startswith("removed sessions: 2, conversations: 4, reports: 2 ")
    assert Interview.objects(user_id="alice").count() == 2
    assert Performance.objects(user_id="alice").count() == 1


def test_purge_dry_run_counts_and_removes_nothing(runner, client, alice):
    old_and_new(client, alice)
    result = runner.invoke(args=["purge", "--older-than", "30", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("would remove sessions: 2, conversations: 6, reports: 1 ")
    assert SessionDocument.objects.count() == 3
    assert Message.objects.count() == 8
    assert Report.objects.count() == 2


def test_purge_prints_the_cutoff(runner, client, alice):
    result = runner.invoke(args=["purge", "--older-than", "7"])
    cutoff = (now() - timedelta(days=7)).strftime("%Y-%m-%d")
    assert result.exit_code == 0
    assert re.fullmatch(
        rf"removed sessions: 0, conversations: 0, reports: 0 "
        rf"\(created before {cutoff}T\d\d:\d\d:\d\dZ\)\n",
        result.output,
    )


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
def test_purge_rejects_days_below_one(runner, client, alice, days):
    session_id = create_session(client, alice)
    age(session_id, 10)
    result = runner.invoke(args=["purge", "--older-than", days])
    assert result.exit_code == 2
    assert "Invalid value for '--older-than'" in result.output
    assert SessionDocument.objects.count() == 1


def test_purge_requires_older_than(runner):
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 2
    assert "Missing option '--older-than'" in result.output


# --- seed-demo ---------------------------------------------------------------------------


def test_seed_demo_creates_a_history_with_analytics(runner, client, headers_for):
    result = runner.invoke(args=["seed-demo", "dana", "--count", "8", "--seed", "1"])
    dana = headers_for("dana")
    stats = client.get("/api/performance-stats", headers=dana).get_json()
    assert result.exit_code == 0, result.output
    assert stats["stats"]["totalInterviews"] == 8
    assert len(stats["stats"]["recentPerformance"]) == 8
    assert stats["summary"]["activeInterviews"] == 2
    assert stats["stats"]["strongestArea"] is not None
    assert stats["rounds"] != []
    assert stats["feedbackThemes"]["improvements"] != []
    assert len({group["key"] for group in stats["byType"]}) > 1


def test_seed_demo_spreads_the_history_over_months(runner, client, headers_for):
    runner.invoke(args=["seed-demo", "dana", "--count", "6", "--seed", "2"])
    points = client.get("/api/performance-stats", headers=headers_for("dana")).get_json()
    dates = [point["completedAt"] for point in points["trend"]["points"]]
    first = Performance.objects(user_id="dana").order_by("completed_at").first().completed_at
    assert dates == sorted(dates)
    assert now() - first > timedelta(days=90)


def test_seed_demo_creates_sessions_with_transcripts_and_a_report(runner, client, headers_for):
    runner.invoke(args=["seed-demo", "dana", "--count", "3"])
    dana = headers_for("dana")
    sessions = client.get("/api/sessions", headers=dana).get_json()["items"]
    assert sorted(session["status"] for session in sessions) == ["abandoned", "completed"]
    done = next(session for session in sessions if session["status"] == "completed")
    detail = client.get(f"/api/sessions/{done['sessionId']}", headers=dana).get_json()
    assert detail["session"]["statistics"] == {
        "questionCount": 4,
        "totalMessages": 8,
        "userMessages": 4,
        "agentMessages": 4,
    }
    assert [message["messageIndex"] for message in detail["conversations"]] == list(range(8))
    assert detail["report"]["reportType"] == "feedback"
    assert detail["report"]["content"]["statistics"]["questionCount"] == 4


def test_seed_demo_prints_what_it_created_and_a_token_hint(runner):
    result = runner.invoke(args=["seed-demo", "dana", "--count", "5"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "created for dana: 7 interviews (5 completed with performances, "
    )
    assert "2 sessions with 12 conversations and 1 report" in result.output
    assert "flask --app wsgi issue-token dana" in result.output


def test_seed_demo_is_additive(runner, client, headers_for):
    runner.invoke(args=["seed-demo", "dana", "--count", "2"])
    runner.invoke(args=["seed-demo", "dana", "--count", "2"])
    stats = client.get("/api/performance-stats", headers=headers_for("dana")).get_json()
    assert stats["stats"]["totalInterviews"] == 4
    assert SessionDocument.objects(user_id="dana").count() == 4


def test_seed_demo_touches_no_other_user(runner, client, alice):
    history(client, alice)
    runner.invoke(args=["seed-demo", "dana", "--count", "2"])
    stats = client.get("/api/performance-stats", headers=alice).get_json()
    assert stats["stats"]["totalInterviews"] == 1
    assert SessionDocument.objects(user_id="alice").count() == 2


@pytest.mark.parametrize("args", [["dana", "--count", "0"], ["  "], []])
def test_seed_demo_rejects_bad_arguments(runner, args):
    result = runner.invoke(args=["seed-demo", *args])
    assert result.exit_code == 2
    assert "Error:" in result.output
    assert Interview.objects.count() == 0


# --- help --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [command.name for command in COMMANDS])
def test_every_command_has_help(runner, command):
    result = runner.invoke(args=[command, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith("Usage:")
    summary = result.output.split("\n\n")[1].strip()
    assert len(summary) > 20


def test_purge_help_explains_days_and_dry_run(runner):
    result = runner.invoke(args=["purge", "--help"])
    assert "--older-than DAYS" in result.output
    assert "--dry-run" in result.output
    assert "transcripts, reports and résumé text" in result.output


def test_seed_demo_help_says_it_is_additive(runner):
    result = runner.invoke(args=["seed-demo", "--help"])
    assert "USER" in result.output
    assert "--count" in result.output
    assert "additive" in result.output


# --- the database the commands reach ------------------------------------------------------


def flask_cli(*args, **env):
    """`flask --app wsgi …` in a process of its own, with `env` over a development environment."""
    environment = {**os.environ, "APP_ENV": "development"}
    environment.pop("MONGODB_URI", None)
    environment.update(env)
    return subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "command", ["init-db", "expire-sessions", "seed-demo demo", "purge --older-than 30", "repair"]
)
def test_commands_on_an_unreachable_database_say_so_in_one_line(command):
    uri = f"mongodb://127.0.0.1:{free_port()}/down"
    result = flask_cli(*command.split(), MONGODB_URI=uri, MONGODB_SERVER_SELECTION_TIMEOUT_MS="300")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: database unreachable at {uri} ({uri.split('/')[2]}: [Errno 111] "
        "Connection refused): is `make run` running, or MONGODB_URI set?"
    ]


@pytest.mark.parametrize("uri", ["redis://127.0.0.1:6379", "mongodb://a:b:c@host", "nonsense"])
def test_commands_with_an_invalid_database_uri_say_so_in_one_line(uri):
    result = flask_cli("init-db", MONGODB_URI=uri)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interview-service: MONGODB_URI is not a valid")


def test_commands_reach_the_database_make_run_wrote_down(tmp_path):
    port = free_port()
    (tmp_path / RUNNING_DATABASE_URI_FILE).write_text(f"mongodb://127.0.0.1:{port}/dev\n")
    result = flask_cli("init-db", DATA_DIR=str(tmp_path), MONGODB_SERVER_SELECTION_TIMEOUT_MS="300")
    assert result.returncode == 1
    assert f"database unreachable at mongodb://127.0.0.1:{port}/dev " in result.stderr


def test_database_errors_never_show_the_password():
    result = flask_cli(
        "init-db",
        MONGODB_URI=f"mongodb://admin:s3cret@127.0.0.1:{free_port()}/x",
        MONGODB_SERVER_SELECTION_TIMEOUT_MS="300",
    )
    assert "admin:***@" in result.stderr and "s3cret" not in result.stderr


# --- progress on long work ----------------------------------------------------------------


def test_seed_demo_reports_progress_per_interview(app):
    calls = []
    demo.seed_demo("paula", 5, random.Random(1), progress=calls.append)
    assert calls == [1] * 5


@pytest.mark.parametrize("dry_run", [False, True], ids=["purge", "dry-run"])
def test_purge_reports_progress_over_every_session(client, alice, dry_run):
    old_and_new(client, alice)
    calls = []
    counts = purge_older_than(now() - timedelta(days=30), dry_run=dry_run, progress=calls.append)
    assert counts["sessions"] == 2
    assert sum(calls) == 2


def test_init_db_command_creates_indexes(runner):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0
    assert "indexes ready" in result.output
