"""Rules of interview sessions: ownership, atomic transcript appends, ending, reports."""

import contextlib
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from functools import partial

import pymongo
from flask import current_app
from mongoengine.errors import BulkWriteError, NotUniqueError
from pymongo.errors import PyMongoError

from interview_service import db
from interview_service.errors import Conflict, Invalid, NotFound, Unauthorized
from interview_service.pagination import paginate
from interview_service.sessions.models import (
    ASSISTANT,
    IN_PROGRESS,
    USER,
    Message,
    MessageMetadata,
    Report,
    ReportContent,
    ReportScores,
    ReportStatistics,
    Resume,
    Session,
    SessionConfig,
)

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# A racing retry waits this long for the request that claimed its clientMessageId.
CLAIM_WAIT_SECONDS = 2.0
CLAIM_POLL_SECONDS = 0.02
RESERVE_ATTEMPTS = 3
# How long a failed append may spend giving its reserved indexes back.
RELEASE_SECONDS = 0.5


def now():
    """The current UTC time at the millisecond precision BSON stores."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def milliseconds(delta):
    """A timedelta as whole milliseconds."""
    return int(delta / timedelta(milliseconds=1))


def require_caller(user):
    """Anonymous callers are only served when ALLOW_ANONYMOUS_SESSIONS is on."""
    if user is None and not current_app.config["ALLOW_ANONYMOUS_SESSIONS"]:
        raise Unauthorized("Missing bearer token")


def get_session(session_id, user):
    """The session `session_id` if the caller may reach it, else NotFound."""
    require_caller(user)
    session = None
    if SESSION_ID.fullmatch(session_id):
        # By the unique sessionId alone (one index lookup), then the owner: the caller's own
        # session, or an anonymous one.
        session = Session.objects(session_id=session_id).first()
    if session is None or session.user_id not in (None, user):
        raise NotFound("Session not found")
    return session


def create_session(data, user, started_at=None):
    """Start a session; return (session, created). A retried create returns the first one.

    `started_at` (default now) lets operator tools such as seed-demo record a past session.
    """
    require_caller(user)
    # 24 random bytes: 192 bits, 32 URL-safe characters.
    session_id = data.get("session_id") or secrets.token_urlsafe(24)
    moment = started_at or now()
    resume = data.get("resume")
    session = Session(
        session_id=session_id,
        user_id=user,
        config=SessionConfig(**data["config"]),
        resume=Resume(**resume) if resume else None,
        start_time=moment,
        created_at=moment,
        updated_at=moment,
    )
    try:
        session.save(force_insert=True)
    except NotUniqueError:
        # A retried create, or two racing ones: the unique index let exactly one in.
        return _same_owner(Session.objects.get(session_id=session_id), user), False
    return session, True


def _same_owner(session, user):
    """The existing session for a retried create by its owner; Conflict for anyone else."""
    if session.user_id != user:
        raise Conflict("sessionId is already in use")
    return session


def session_detail(session_id, user):
    """The session, its whole transcript and its latest report (or None)."""
    session = get_session(session_id, user)
    stored = Message.objects.of_session(session.session_id).in_order().as_pymongo()
    messages = [db.attributes_of(Message, message) for message in stored]
    report = Report.objects.of_session(session.session_id).first()
    return {"session": session, "conversations": messages, "report": report}


def list_sessions(user, status=None, limit=20, cursor=None):
    """A page of the caller's sessions, newest first: (items, next_cursor)."""
    if user is None:
        raise Unauthorized("Missing bearer token")
    sessions = Session.objects.owned_by(user).with_status(status).exclude("resume.content")
    return paginate(sessions, limit, cursor, read=partial(db.read_raw, Session))


def delete_session(session_id, user):
    """Delete a session with its transcript and reports."""
    session = get_session(session_id, user)
    # The session goes first, so no new append can reserve an index; an append that had
    # already reserved one may still land after the transcript is deleted (a stray message
    # no one can reach). Deleting children first would leave the same window the other way.
    Session.objects(session_id=session.session_id).delete()
    Message.objects.of_session(session.session_id).delete()
    Report.objects(session_id=session.session_id).delete()


# --- whole accounts and retention -------------------------------------------------------

# Sessions are deleted in batches of this many sessionIds (one `$in` per collection).
DELETE_BATCH = 500


def export_user(user):
    """The user's own sessions, oldest first, each with lazy cursors on transcript and reports.

    Yields `{"session", "conversations", "reports"}`; nothing is loaded beyond one batch
    of each cursor, so an export of any size keeps memory flat.
    """
    sessions = Session.objects.owned_by(user).oldest_first().no_cache()
    for session in sessions:
        yield {
            "session": session,
            "conversations": Message.objects.of_session(session.session_id).in_order().no_cache(),
            "reports": Report.objects.of_session(session.session_id).no_cache(),
        }


def delete_user(user):
    """Delete every session the user owns with its transcript and reports; return the counts."""
    return _delete_all(Session.objects.owned_by(user))


def purge_older_than(moment, dry_run=False):
    """Delete sessions created before `moment` (any owner) with their transcripts, reports and
    résumé text; return the counts (what would go, with `dry_run`)."""
    old = Session.objects.created_before(moment)
    if not dry_run:
        return _delete_all(old)
    counts = _no_counts()
    for batch in _batches(old.no_cache().scalar("session_id")):
        counts["sessions"] += len(batch)
        counts["conversations"] += Message.objects(session_id__in=batch).count()
        counts["reports"] += Report.objects(session_id__in=batch).count()
    return counts


def _no_counts():
    return {"sessions": 0, "conversations": 0, "reports": 0}


def _batches(items):
    """`items` in lists of DELETE_BATCH."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == DELETE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _delete_all(sessions):
    """Delete the sessions of a queryset and their children, a batch at a time.

    Children go before their session, so a crash midway leaves sessions that a rerun still
    finds (never a transcript no one can reach); the transcript is swept again after the
    session went, for an append that had reserved its index just before.
    """
    counts = _no_counts()
    while batch := list(sessions.limit(DELETE_BATCH).scalar("session_id")):
        counts["conversations"] += Message.objects(session_id__in=batch).delete()
        counts["reports"] += Report.objects(session_id__in=batch).delete()
        counts["sessions"] += Session.objects(session_id__in=batch).delete()
        counts["conversations"] += Message.objects(session_id__in=batch).delete()
    return counts


# --- transcript -------------------------------------------------------------------------


def append_messages(session_id, user, messages, batch=False, idempotency_key=None):
    """Append messages with gap-free indexes; a retried append returns the stored ones.

    How indexes stay gap-free: one `find_one_and_update` on the session both reserves the
    indexes (`$inc nextMessageIndex`, with the statistics and updatedAt) and records the
    messages' clientMessageIds, matching only when none of them is recorded yet. So of two
    racing retries exactly one reserves; the other waits for the first one's messages and
    answers with them. An insert the database fails gives its indexes back (unless a later
    append reserved after it), so the client's retry lands without a gap. The remaining
    window: a process that dies (or stalls longer than CLAIM_WAIT_SECONDS) between reserving
    and inserting, or a database that is down for the give-back too, leaves a gap, and
    statistics that count its lost messages; a retry then takes over with fresh indexes, and
    the unique indexes still forbid a duplicate message or index.
    """
    session = get_session(session_id, user)
    messages = _with_client_ids(messages, batch, idempotency_key)
    claims = [m["client_message_id"] for m in messages if m.get("client_message_id")]
    stored = _stored_copies(session.session_id, messages, claims)
    if stored:
        return stored
    counts = _counts(messages)
    claiming = claims
    for _ in range(RESERVE_ATTEMPTS):
        first = Session.objects.reserve_indexes(session.session_id, counts, claiming, now())
        if first is not None:
            return _insert(session.session_id, messages, claims, first, counts)
        current = Session.objects(session_id=session.session_id).first()
        if current is None:
            raise NotFound("Session not found")
        if current.status != IN_PROGRESS:
            stored = _stored_copies(session.session_id, messages, claims)
            if stored:
                return stored
            raise Conflict(f"Session is {current.status}: no more messages can be added")
        if set(claiming) & set(current.claimed_message_ids):
            stored = _wait_for_copies(session.session_id, messages, claims)
            if stored:
                return stored
            claiming = []  # the request that claimed them died or stalls: take over
    raise Conflict("The session changed during the append; retry")


def _with_client_ids(messages, batch, idempotency_key):
    """Apply the Idempotency-Key header: the message's id, or `<key>:<n>` in a batch."""
    if idempotency_key:
        if not batch:
            message = messages[0]
            if message.get("client_message_id", idempotency_key) != idempotency_key:
                raise Invalid(
                    "clientMessageId and the Idempotency-Key header differ",
                    field="clientMessageId",
                )
            message["client_message_id"] = idempotency_key
        else:
            for number, message in enumerate(messages):
                message.setdefault("client_message_id", f"{idempotency_key}:{number}")
    ids = [m["client_message_id"] for m in messages if m.get("client_message_id")]
    if len(ids) != len(set(ids)):
        raise Invalid("clientMessageId must be unique within a batch", field="messages")
    return messages


def _stored_copies(session_id, messages, claims):
    """The stored messages of a retried append, None when it is new; Conflict if partial."""
    if not claims:
        return None
    found = list(Message.objects.with_client_ids(session_id, claims))
    if not found:
        return None
    if len(found) != len(messages):
        raise Conflict("Some of these clientMessageIds are already stored with other messages")
    return found


def _wait_for_copies(session_id, messages, claims):
    """Wait for the request that claimed `claims` to store its messages."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while time.monotonic() < deadline:
        stored = _stored_copies(session_id, messages, claims)
        if stored:
            return stored
        time.sleep(CLAIM_POLL_SECONDS)
    return None


def _counts(messages):
    """The statistics increments of `messages`."""
    users = sum(1 for m in messages if m["role"] == USER)
    questions = sum(
        1
        for m in messages
        if m["role"] == ASSISTANT and (m.get("metadata") or {}).get("is_question")
    )
    return {
        "total": len(messages),
        "user": users,
        "assistant": len(messages) - users,
        "questions": questions,
    }


def _insert(session_id, messages, claims, first, counts):
    """Store `messages` at indexes first, first+1, …; release the indexes if that fails."""
    moment = now()
    documents = [
        Message(
            session_id=session_id,
            role=message["role"],
            content=message["content"],
            timestamp=message.get("timestamp") or moment,
            message_index=first + number,
            metadata=MessageMetadata(**message["metadata"]) if message.get("metadata") else None,
            client_message_id=message.get("client_message_id"),
            created_at=moment,
        )
        for number, message in enumerate(messages)
    ]
    try:
        Message.objects.insert(documents, load_bulk=False)
    except (NotUniqueError, BulkWriteError):
        # Only after a take-over: the stalled first request stored them after all.
        stored = _stored_copies(session_id, messages, claims)
        if stored:
            return stored
        raise
    except Exception:
        # The database failed the insert: give the indexes back so a retry lands without a
        # gap. Best effort within a short deadline; if the database is down, the gap stays.
        with contextlib.suppress(PyMongoError), pymongo.timeout(RELEASE_SECONDS):
            Session.objects.release_indexes(session_id, first, counts, claims)
        raise
    return documents


def list_messages(session_id, user, after=None, limit=20, cursor=None):
    """A page of the transcript in order, after messageIndex `after` or `cursor`."""
    session = get_session(session_id, user)
    messages = Message.objects.of_session(session.session_id)
    if after is not None and cursor is not None:
        # One bound on the index, the tighter: two would make a top-level `$and` (a scan).
        after, cursor = (after, None) if after >= cursor[0] else (None, cursor)
    if after is not None:
        messages = messages.filter(message_index__gt=after)
    return paginate(
        messages,
        limit,
        cursor,
        key="message_index",
        descending=False,
        read=partial(db.read_raw, Message),
    )


# --- ending -----------------------------------------------------------------------------


def end_session(session_id, user, status, end_time=None):
    """End an in-progress session as `status`; ending again the same way changes nothing."""
    session = get_session(session_id, user)
    end_time = end_time or now()
    if end_time < session.start_time:
        raise Invalid("endTime must not be before startTime", field="endTime")
    if session.status != IN_PROGRESS:
        return _ended_as(session, status)
    # Conditional on in_progress: of two racing ends exactly one matches.
    ended = Session.objects(session_id=session.session_id, status=IN_PROGRESS).update_one(
        set__status=status,
        set__end_time=end_time,
        set__duration=milliseconds(end_time - session.start_time),
        set__updated_at=now(),
    )
    session.reload()
    return session if ended else _ended_as(session, status)


def _ended_as(session, status):
    """An already ended session: unchanged when ended the same way, else Conflict."""
    if session.status != status:
        raise Conflict(f"Session is already {session.status}")
    return session


def expire_idle_sessions(idle_seconds=None, moment=None):
    """Mark in-progress sessions idle longer than SESSION_IDLE_TIMEOUT as abandoned."""
    moment = moment or now()
    idle_seconds = idle_seconds or current_app.config["SESSION_IDLE_TIMEOUT"]
    idle = Session.objects.idle_since(moment - timedelta(seconds=idle_seconds))
    expired = 0
    for session in idle.only("session_id", "start_time", "updated_at"):
        last_activity = session.updated_at
        # Conditional on updatedAt: a message appended meanwhile keeps the session alive.
        expired += Session.objects(
            session_id=session.session_id, status=IN_PROGRESS, updated_at=last_activity
        ).update_one(
            set__status="abandoned",
            set__end_time=last_activity,
            set__duration=max(0, milliseconds(last_activity - session.start_time)),
            set__updated_at=moment,
        )
    return expired


# --- reports ----------------------------------------------------------------------------


def add_report(session_id, user, report_type, content):
    """Store a report; missing statistics are computed from the transcript."""
    session = get_session(session_id, user)
    content = dict(content)
    if not content.get("statistics"):
        content["statistics"] = transcript_statistics(session)
    moment = now()
    report = Report(
        session_id=session.session_id,
        report_type=report_type,
        generated_at=moment,
        content=ReportContent(
            **{
                **content,
                "scores": ReportScores(**content["scores"]) if content.get("scores") else None,
                "statistics": ReportStatistics(**content["statistics"]),
            }
        ),
        created_at=moment,
    )
    report.save(force_insert=True)
    return report


def transcript_statistics(session):
    """totalDuration, questionCount and averageResponseTime (ms) of a session's transcript.

    totalDuration is the session's duration once ended, else the span of the transcript;
    a response time runs from an assistant question to the next user message.
    """
    messages = list(
        Message.objects.of_session(session.session_id)
        .in_order()
        .only("role", "timestamp", "metadata")
    )
    questions, waiting, response_times = 0, [], []
    for message in messages:
        if message.role == ASSISTANT and message.metadata and message.metadata.is_question:
            questions += 1
            waiting.append(message.timestamp)
        elif message.role == USER and waiting:
            response_times += [max(0, milliseconds(message.timestamp - t)) for t in waiting]
            waiting = []
    total = session.duration
    if total is None and messages:
        total = max(0, milliseconds(messages[-1].timestamp - messages[0].timestamp))
    return {
        "total_duration": total,
        "question_count": questions,
        "average_response_time": (
            sum(response_times) / len(response_times) if response_times else None
        ),
    }


def latest_report(session_id, user, report_type=None):
    """The newest report of the session (of `report_type` when given)."""
    session = get_session(session_id, user)
    report = Report.objects.of_session(session.session_id, report_type).first()
    if report is None:
        raise NotFound("Report not found")
    return report


def list_reports(session_id, user):
    """Every report of the session, newest first."""
    session = get_session(session_id, user)
    return list(Report.objects.of_session(session.session_id))
