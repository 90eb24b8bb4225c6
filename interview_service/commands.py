"""Operator commands, run as `flask --app wsgi <command>`."""

import click
from flask import current_app
from flask.cli import with_appcontext

from interview_service import auth, db


@click.command("init-db")
@with_appcontext
def init_db():
    """Create every index the documents declare."""
    from interview_service import DOCUMENTS

    db.ensure_indexes(DOCUMENTS)
    click.echo(f"indexes ready for {len(DOCUMENTS)} collections")


@click.command("issue-token")
@click.argument("user_id")
@click.option("--hours", default=12, show_default=True, help="Lifetime of the token.")
@with_appcontext
def issue_token(user_id, hours):
    """Print a development bearer token for USER_ID, signed with JWT_SECRET."""
    from datetime import timedelta

    click.echo(auth.issue_token(user_id, current_app.config, timedelta(hours=hours)))


@click.command("expire-sessions")
@with_appcontext
def expire_sessions():
    """Mark in-progress sessions idle longer than SESSION_IDLE_TIMEOUT as abandoned."""
    from interview_service.sessions.service import expire_idle_sessions

    click.echo(f"{expire_idle_sessions()} idle sessions marked abandoned")


COMMANDS = [init_db, issue_token, expire_sessions]
