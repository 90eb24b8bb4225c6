"""Operator commands, run as `flask --app wsgi <command>`."""

import contextlib
import functools
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from pymongo.errors import ConnectionFailure

from interview_service import auth, db


@contextlib.contextmanager
def running_count(label):
    """A progress callback adding to a count shown on stderr when it is a terminal."""
    done = 0
    terminal = sys.stderr.isatty()

    def add(count):
        nonlocal done
        done += count
        if terminal:
            click.echo(f"\r{label}: {done}", nl=False, err=True)

    yield add
    if terminal and done:
        click.echo(err=True)


def whole_number_option(*names, low, high, **kwargs):
    """A `click.option` taking a whole number from `low` to `high`, its default shown in --help."""
    return click.option(*names, type=click.IntRange(low, high), show_default=True, **kwargs)


def database_command(function):
    """`with_appcontext`, and an unreachable database as one line instead of a traceback."""

    @functools.wraps(function)
    @with_appcontext
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ConnectionFailure as error:
            uri = db.redacted(current_app.config["MONGODB_URI"])
            reason = str(error).split(" (configured timeouts")[0].split(", Timeout:")[0]
            raise click.ClickException(
                f"database unreachable at {uri} ({reason}): is `make run` running, "
                "or MONGODB_URI set?"
            ) from None

    return run


@click.command("init-db")
@database_command
def init_db():
    """Create every index the documents declare."""
    from interview_service.modules import documents

    db.ensure_indexes(documents())
    click.echo(f"indexes ready for {len(documents())} collections")


@click.command("issue-token")
@click.argument("user_id")
@click.option("--hours", default=12, show_default=True, help="Lifetime of the token.")
@with_appcontext
def issue_token(user_id, hours):
    """Print a development bearer token for USER_ID, signed with JWT_SECRET."""
    from datetime import timedelta

    click.echo(auth.issue_token(user_id, current_app.config, timedelta(hours=hours)))


@click.command("expire-sessions")
@database_command
def expire_sessions():
    """Mark in-progress sessions idle longer than SESSION_IDLE_TIMEOUT as abandoned."""
    from interview_service.sessions.service import expire_idle_sessions

    click.echo(f"{expire_idle_sessions()} idle sessions marked abandoned")


@click.command("purge")
@whole_number_option(
    "--older-than",
    "days",
    low=1,
    high=36500,
    required=True,
    metavar="DAYS",
    help="Remove sessions created more than DAYS days ago (at least 1).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@database_command
def purge(days, dry_run):
    """Remove old sessions with their transcripts, reports and résumé text (data retention).

    Every session created more than DAYS days ago goes, whoever owns it, with all its
    conversations and reports; prints the counts. Interviews and performances are kept.
    """
    from datetime import timedelta

    from interview_service.modules import merged
    from interview_service.times import now

    cutoff = now() - timedelta(days=days)
    verb = "would remove" if dry_run else "removed"
    with running_count(f"sessions {verb}") as progress:
        counts = merged("purge_older_than", cutoff, dry_run=dry_run, progress=progress)
    removed = ", ".join(f"{kind}: {count}" for kind, count in counts.items())
    click.echo(f"{verb} {removed} (created before {cutoff:%Y-%m-%dT%H:%M:%SZ})")


@click.command("repair")
@whole_number_option(
    "--settled-minutes", low=0, high=10080, default=10, help="Correct sessions idle this long only."
)
@database_command
def repair(settled_minutes):
    """Make the stored data agree again after a crash or database outage between two writes.

    Transcripts: drops the unique indexes of earlier versions, keys older messages and reports
    by their session's _id, removes what deleted sessions left behind, and corrects the
    statistics of settled sessions from their stored messages; a messageIndex that was
    reserved but never stored (a gap) cannot be filled and is listed. Performances: links
    saved results to their interviews and removes results whose interview is gone.
    """
    from datetime import timedelta

    from interview_service.performance.service import repair_all
    from interview_service.sessions.service import now, repair_transcripts

    done = repair_transcripts(now() - timedelta(minutes=settled_minutes))
    click.echo(
        f"transcripts: {done['indexes_dropped']} old indexes dropped, "
        f"{done['adopted']} messages/reports keyed by their session, "
        f"{done['orphans_removed']} left by deleted sessions removed, "
        f"{done['counters_fixed']} session counters corrected, "
        f"{len(done['gaps'])} sessions with gaps"
    )
    for session_id, missing in done["gaps"].items():
        click.echo(f"gap: session {session_id} misses messageIndex {_ranges(missing)}")
    performances = repair_all()
    click.echo(
        f"performances: {performances['linked']} linked to their interview, "
        f"{performances['orphans_removed']} without an interview removed"
    )


def _ranges(numbers):
    """Sorted integers as `0-3, 7, 9-10`."""
    spans = []
    for number in numbers:
        if spans and spans[-1][1] == number - 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@click.command("seed-demo")
@click.argument("user")
@whole_number_option(
    "--count", low=1, high=500, default=12, help="Completed interviews (with performances) to add."
)
@click.option("--seed", type=int, help="Random seed, for a reproducible history.")
@database_command
def seed_demo(user, count, seed):
    """Add a realistic demo history for USER (additive: each run adds another one).

    Creates COUNT completed interviews across companies, types and levels over the last
    months (with feedback and round results), one interview in progress, one ready, and
    two agent sessions with transcripts (one completed with a feedback report, one
    abandoned) — all through the services, so the usual rules hold.
    """
    import random

    from interview_service import demo

    if not user.strip():
        raise click.BadParameter("must not be blank", param_hint="USER")
    bar = click.progressbar(
        length=count, label="completed interviews", file=sys.stderr, hidden=not sys.stderr.isatty()
    )
    with bar:
        made = demo.seed_demo(user, count, random.Random(seed), progress=bar.update)
    click.echo(
        f"created for {user}: {made['interviews']} interviews "
        f"({made['performances']} completed with performances, "
        f"{made['first_completed_at']:%Y-%m-%d} to {made['last_completed_at']:%Y-%m-%d}, "
        "1 in progress, 1 ready), "
        f"{made['sessions']} sessions with {made['conversations']} conversations "
        f"and {made['reports']} report"
    )
    click.echo(
        f"try it: flask --app wsgi issue-token {user}, then GET /api/performance-stats "
        "with the header 'Authorization: Bearer <token>'"
    )


COMMANDS = [init_db, issue_token, expire_sessions, purge, repair, seed_demo]
