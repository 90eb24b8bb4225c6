"""Whole accounts and retention of the sessions module: export, deletion, purge."""

from interview_service.querysets import in_batches
from interview_service.sessions.models import Message, Report, Session

# Sessions are deleted in batches of this many sessionIds (one `$in` per collection).
DELETE_BATCH = 500


def export_user(user):
    """The user's own sessions, oldest first, each with lazy cursors on transcript and reports:
    `{"sessions": …}` (the account export's part)."""
    return {"sessions": _exported_sessions(user)}


def _exported_sessions(user):
    """Yields `{"session", "conversations", "reports"}`; nothing is loaded beyond one batch
    of each cursor, so an export of any size keeps memory flat."""
    sessions = Session.objects.owned_by(user).oldest_first().no_cache()
    for session in sessions:
        yield {
            "session": session,
            "conversations": Message.objects.of_session(session).in_order().no_cache(),
            "reports": Report.objects.newest_of(session).no_cache(),
        }


def delete_user(user):
    """Delete every session the user owns with its transcript and reports; return the counts."""
    return delete_all(Session.objects.owned_by(user))


def _no_progress(done):
    """Progress reports nobody asked for."""


def purge_older_than(moment, dry_run=False, progress=_no_progress):
    """Delete sessions created before `moment` (any owner) with their transcripts, reports and
    résumé text; return the counts (what would go, with `dry_run`). `progress(n)` is called
    after each batch of `n` sessions."""
    old = Session.objects.created_before(moment)
    if not dry_run:
        return delete_all(old, progress)
    counts = _no_counts()
    for batch in in_batches(old.no_cache().scalar("session_id", "id"), DELETE_BATCH):
        counts["sessions"] += len(batch)
        progress(len(batch))
        counts["conversations"] += Message.objects.of_sessions(batch).count()
        counts["reports"] += Report.objects.of_sessions(batch).count()
    return counts


def _no_counts():
    return {"sessions": 0, "conversations": 0, "reports": 0}


def delete_all(sessions, progress=_no_progress):
    """Delete the sessions of a queryset and their children, a batch at a time: the one
    delete path (one session, an account, the retention purge).

    Children go before their session, so a crash midway leaves sessions that a rerun still
    finds (never a transcript no one can reach); the transcript is swept again after the
    session went, for an append that had reserved its index just before (one that lands
    later still is keyed by the deleted session's _id, never reached again, and `flask
    repair` removes it).
    """
    counts = _no_counts()
    while batch := list(sessions.limit(DELETE_BATCH).scalar("session_id", "id")):
        counts["conversations"] += Message.objects.of_sessions(batch).delete()
        counts["reports"] += Report.objects.of_sessions(batch).delete()
        counts["sessions"] += Session.objects(id__in=[ref for _, ref in batch]).delete()
        counts["conversations"] += Message.objects.of_sessions(batch).delete()
        progress(len(batch))
    return counts
