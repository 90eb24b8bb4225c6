"""Rules of interview sessions: ownership, atomic transcript appends, ending, reports."""

import contextlib
import math
import re
import secrets
import string
import time
from collections import Counter
from datetime import timedelta
from functools import partial

import pymongo
from bson import ObjectId
from flask import current_app
from mongoengine.errors import BulkWriteError, NotUniqueError
from pymongo.errors import PyMongoError

from interview_service import db
from interview_service.errors import Conflict, Invalid, NotFound
from interview_service.pagination import paginate
from interview_service.querysets import in_batches
from interview_service.sessions import retention
from interview_service.sessions.models import (
    ASSISTANT,
    FAILED,
    IN_PROGRESS,
    PENDING,
    READY,
    SESSION_ID_PATTERN,
    SUPERSEDED_INDEXES,
    USER,
    Message,
    QuestionFeedback,
    Report,
    ReportContent,
    ReportEvidence,
    ReportGenerator,
    ReportScores,
    ReportStatistics,
    Resume,
    Session,
    SessionConfig,
    SessionStatistics,
    append_counts,
    statistics_of,
)
from interview_service.times import now

SESSION_ID = re.compile(SESSION_ID_PATTERN)
# An anonymous session is reached by its sessionId alone: a client's must be unguessable.
ANONYMOUS_ID_BITS = 128
ID_ALPHABETS = tuple(
    frozenset(characters)
    for characters in (
        string.digits,
        string.digits + "abcdef",
        string.digits + "ABCDEF",
        string.ascii_lowercase,
        string.ascii_uppercase,
        string.ascii_lowercase + string.digits,
        string.ascii_uppercase + string.digits,
        string.ascii_letters + string.digits,
        string.ascii_letters + string.digits + "-_",
    )
)
# A racing retry waits this long for the request that claimed its clientMessageId.
CLAIM_WAIT_SECONDS = 2.0
CLAIM_POLL_SECONDS = 0.02
# Each miss of the conditional reservation means another append reserved first (progress).
RESERVE_ATTEMPTS = 100
# The fields an append reads again after missing its reservation.
RESERVATION_FIELDS = ("session_id", "status", "next_message_index", "claimed_message_ids")
# A generation whose number another took, which settled meanwhile, tries the next number.
START_ATTEMPTS = 3
ALREADY_GENERATING = "A report is already being generated for this session"
# How long a failed append may spend giving its reserved indexes back.
RELEASE_SECONDS = 0.5
# Where the app registers the check of a session's config.interviewId: a function
# (user, interview_id) -> bool. The composite above both blueprints provides it, so this
# blueprint never looks at interviews itself; with none registered, no link is accepted.
INTERVIEW_CHECK = "interview_service.sessions.interview_check"


def milliseconds(delta):
    """A timedelta as whole milliseconds."""
    return int(delta / timedelta(milliseconds=1))


def get_session(user, session_id):
    """The session `session_id` if the caller may reach it, else NotFound."""
    session = None
    if SESSION_ID.fullmatch(session_id):
        # By the unique sessionId alone (one index lookup), then the owner: the caller's own
        # session, or an anonymous one.
        session = Session.objects(session_id=session_id).first()
    if session is None or session.user_id not in (None, user):
        raise NotFound("Session not found")
    return session


def create_session(user, data, started_at=None):
    """Start a session; return (session, created). A retried create returns the first one.

    `started_at` (default now) lets operator tools such as seed-demo record a past session.
    """
    if user is None and data.get("session_id") and not unguessable(data["session_id"]):
        raise Invalid(
            f"An anonymous session's sessionId must hold at least {ANONYMOUS_ID_BITS} random "
            "bits (e.g. 22 random base64url characters); or leave it out to get one",
            field="sessionId",
        )
    _check_interview_link(user, data["config"].get("interview_id"))
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
        return _retried(Session.objects.get(session_id=session_id), session, user), False
    return session, True


def _check_interview_link(user, interview_id):
    """A linked interview must be one of the caller's (anonymous sessions cannot link)."""
    if not interview_id:
        return
    check = current_app.extensions.get(INTERVIEW_CHECK)
    if user is None or check is None or not check(user, interview_id):
        message = "interviewId must be one of your interviews"
        raise Invalid(message, errors={"config": {"interviewId": [message]}})


def _retried(existing, requested, user):
    """The existing session for a retried create; Conflict for anyone else.

    A token's owner gets it back whatever the body. An anonymous session has no owner to
    check, so only a create with the same config and résumé is taken for its retry.
    """
    if existing.user_id != user or (user is None and _body(existing) != _body(requested)):
        raise Conflict("sessionId is already in use")
    return existing


def _body(session):
    """What a create request set on `session`: its config and résumé, as stored."""
    stored = session.to_mongo().to_dict()
    return stored.get("config"), stored.get("resume")


def unguessable(session_id):
    """Whether a client's `session_id` can hold ANONYMOUS_ID_BITS random bits.

    It counts log2 of the smallest usual alphabet holding all its characters per character
    (digits 3.3 bits, hex 4, letters and digits 5.2 to 5.95, base64url 6), and refuses an id
    in which one character makes up over a third (`aaaa…`, `abab…`). Nothing can prove that
    a string is random: clients must draw it from a secure generator.
    """
    if max(Counter(session_id).values()) * 3 > len(session_id):
        return False
    characters = set(session_id)
    alphabet = next(a for a in ID_ALPHABETS if characters <= a)
    return len(session_id) * math.log2(len(alphabet)) >= ANONYMOUS_ID_BITS


def session_detail(user, session_id):
    """The session, its whole transcript and its latest report (or None).

    The statistics are counted from the transcript answered beside them, so the two agree
    even when a database fault cost the stored counters an append (`flask repair` fixes those).
    """
    session = get_session(user, session_id)
    messages = db.read_raw(Message, Message.objects.of_session(session).in_order())
    session.statistics = SessionStatistics(**statistics_of(append_counts(messages)))
    report = Report.objects.newest_of(session).ready().first()
    return {"session": session, "conversations": messages, "report": report}


def list_sessions(user, status=None, limit=20, cursor=None):
    """A page of the caller's sessions, newest first."""
    sessions = Session.objects.owned_by(user).with_status(status).exclude("resume.content")
    return paginate(sessions, limit, cursor, read=partial(db.read_raw, Session))


def delete_session(user, session_id):
    """Delete a session with its transcript and reports."""
    session = get_session(user, session_id)
    retention.delete_all(Session.objects(id=session.id))


# --- repair -----------------------------------------------------------------------------


def repair_transcripts(settled_before):
    """Make stored transcripts and counters agree again after faults; return what was done.

    Drops the unique indexes of earlier versions, gives messages and reports stored before
    they carried their session's `_id` that `_id` (or removes them when their session is gone
    or younger than they are), removes what a deleted session left behind, and corrects the
    statistics of sessions with no append since `settled_before` (a later one may still be
    inserting). A missing index (a gap) cannot be filled: it is reported as
    `gaps` {sessionId: [messageIndex, …]}.
    """
    done = {"indexes_dropped": _drop_superseded_indexes(), "adopted": 0, "orphans_removed": 0}
    for document in (Message, Report):
        adopted, removed = _adopt_legacy(document)
        done["adopted"] += adopted
        done["orphans_removed"] += removed + _remove_orphans(document)
    done.update(_repair_counters(settled_before))
    return done


def _drop_superseded_indexes():
    """Drop the unique indexes of earlier versions that are still on the collections."""
    dropped = 0
    for document, keys in SUPERSEDED_INDEXES.items():
        collection = document._get_collection()
        for name, index in collection.index_information().items():
            if [tuple(key) for key in index["key"]] in [list(key) for key in keys]:
                collection.drop_index(name)
                dropped += 1
    return dropped


def _adopt_legacy(document):
    """Key `document`s stored without their session's `_id` by it; (adopted, removed)."""
    legacy = document.objects(session_ref=None)
    adopted = 0
    for session_id in legacy.distinct("session_id"):
        session = Session.objects(session_id=session_id).only("created_at").first()
        if session is not None:
            adopted += legacy.filter(
                session_id=session_id, created_at__gte=session.created_at
            ).update(set__session_ref=session.id)
    # What is left belongs to no session, or to a deleted one whose sessionId was reused.
    return adopted, legacy.delete()


def _remove_orphans(document):
    """Remove `document`s whose session is gone (an append that raced its delete)."""
    removed = 0
    for batch in in_batches(document.objects.distinct("session_ref"), retention.DELETE_BATCH):
        existing = set(Session.objects(id__in=batch).scalar("id"))
        gone = [ref for ref in batch if ref not in existing]
        if gone:
            removed += document.objects(session_ref__in=gone).delete()
    return removed


def _repair_counters(settled_before):
    """Correct the statistics of settled sessions from their stored transcripts; find gaps."""
    fixed, gaps = 0, {}
    settled = Session.objects(updated_at__lt=settled_before).only(
        "session_id", "next_message_index", "statistics", "updated_at"
    )
    for batch in in_batches(settled.no_cache(), retention.DELETE_BATCH):
        # One count per batch finds the sessions whose transcript is short of their counter.
        stored = Message.objects.of_sessions((s.session_id, s.id) for s in batch).aggregate(
            [{"$group": {"_id": f"${Message.session_ref.db_field}", "count": {"$sum": 1}}}]
        )
        counted = {row["_id"]: row["count"] for row in stored}
        for session in batch:
            statistics = session.statistics
            if (
                counted.get(session.id, 0)
                == session.next_message_index
                == (statistics.total_messages)
            ):
                continue
            stored = Message.objects.of_session(session).only("role", "metadata", "message_index")
            messages = db.read_raw(Message, stored)
            counts = append_counts(messages)
            if statistics_of(counts) != {name: statistics[name] for name in statistics_of(counts)}:
                fixed += Session.objects.set_statistics(session, counts)
            present = {message["message_index"] for message in messages}
            missing = sorted(set(range(session.next_message_index)) - present)
            if missing:
                gaps[session.session_id] = missing
    return {"counters_fixed": fixed, "gaps": gaps}


# --- transcript -------------------------------------------------------------------------


def append_messages(user, session_id, messages, batch=False, idempotency_key=None):
    """Append messages with gap-free indexes; a retried append returns the stored ones.

    How indexes stay gap-free: one conditional update on the session both reserves the
    indexes (moves `nextMessageIndex` from the value read, with the statistics and updatedAt)
    and records the messages' clientMessageIds, matching only when none of them is recorded
    yet. So of two racing appends exactly one reserves, and the other reads the counter again;
    of two racing retries the second waits for the first one's messages and answers with them.
    An insert the database fails gives its indexes back (unless a later append reserved after
    it), so the client's retry lands without a gap. The remaining window: a process that dies
    (or stalls longer than CLAIM_WAIT_SECONDS) between reserving and inserting, or a database
    that is down for the give-back too, leaves a gap, and stored statistics that count its lost
    messages; a retry then takes over with fresh indexes, the unique indexes still forbid a
    duplicate message or index, the session's answer counts its statistics from the stored
    transcript, and `flask repair` corrects the stored counters and reports the gap.
    """
    session = get_session(user, session_id)
    messages = _with_client_ids(messages, batch, idempotency_key)
    claims = [m["client_message_id"] for m in messages if m.get("client_message_id")]
    stored = _stored_copies(session, messages, claims)
    if stored:
        return stored
    counts = append_counts(messages)
    claiming = claims
    for _ in range(RESERVE_ATTEMPTS):
        if session.status != IN_PROGRESS:
            stored = _stored_copies(session, messages, claims)
            if stored:
                return stored
            raise Conflict(
                f"Session is {session.status}: no more messages can be added",
                type="session_not_in_progress",
            )
        if set(claiming) & set(session.claimed_message_ids):
            stored = _wait_for_copies(session, messages, claims)
            if stored:
                return stored
            claiming = []  # the request that claimed them died or stalls: take over
        first = session.next_message_index
        if Session.objects.reserve_indexes(session, counts, claiming, now()):
            return _insert(session, messages, claiming, first, counts)
        # Missed: another append reserved first, or the session ended or was deleted.
        session = Session.objects(id=session.id).only(*RESERVATION_FIELDS).first()
        if session is None:
            raise NotFound("Session not found")
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


def _stored_copies(session, messages, claims):
    """The stored messages of a retried append, None when it is new; Conflict if partial."""
    if not claims:
        return None
    found = list(Message.objects.with_client_ids(session, claims))
    if not found:
        return None
    if len(found) != len(messages):
        raise Conflict("Some of these clientMessageIds are already stored with other messages")
    return found


def _wait_for_copies(session, messages, claims):
    """Wait for the request that claimed `claims` to store its messages."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while time.monotonic() < deadline:
        stored = _stored_copies(session, messages, claims)
        if stored:
            return stored
        time.sleep(CLAIM_POLL_SECONDS)
    return None


def _insert(session, messages, claims, first, counts):
    """Store `messages` at indexes first, first+1, …; release the indexes if that fails."""
    moment = now()
    documents = [
        Message(
            session_id=session.session_id,
            session_ref=session.id,
            role=message["role"],
            content=message["content"],
            timestamp=message.get("timestamp") or moment,
            message_index=first + number,
            metadata=message.get("metadata") or None,
            client_message_id=message.get("client_message_id"),
            created_at=moment,
        )
        for number, message in enumerate(messages)
    ]
    try:
        Message.objects.insert(documents, load_bulk=False)
    except (NotUniqueError, BulkWriteError):
        # Only after a take-over: the stalled first request stored them after all.
        stored = _stored_copies(session, messages, claims)
        if stored:
            return stored
        raise
    except Exception:
        # The database failed the insert: give the indexes back so a retry lands without a
        # gap. Best effort within a short deadline; if the database is down, the gap stays.
        with contextlib.suppress(PyMongoError), pymongo.timeout(RELEASE_SECONDS):
            Session.objects.release_indexes(session, first, counts, claims)
        raise
    return documents


def transcript_page(user, session_id, after=None, limit=20, cursor=None):
    """A page of the transcript in order (after messageIndex `after` or `cursor`), with the
    session's status and its whole message count."""
    session = get_session(user, session_id)
    messages = Message.objects.of_session(session)
    count = messages.count()
    if after is not None and cursor is not None:
        # One bound on the index, the tighter: two would make a top-level `$and` (a scan).
        after, cursor = (after, None) if after >= cursor[0] else (None, cursor)
    if after is not None:
        messages = messages.filter(message_index__gt=after)
    page = paginate(
        messages,
        limit,
        cursor,
        key="message_index",
        descending=False,
        read=partial(db.read_raw, Message),
    )
    return {
        **page,
        "session_id": session.session_id,
        "session_status": session.status,
        "count": count,
    }


# --- ending -----------------------------------------------------------------------------


def end_session(user, session_id, status, end_time=None):
    """End an in-progress session as `status`; ending again the same way changes nothing."""
    session = get_session(user, session_id)
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


def add_report(user, session_id, report_type, content):
    """Store a report; missing statistics are computed from the transcript."""
    session = get_session(user, session_id)
    content = dict(content)
    if not content.get("statistics"):
        content["statistics"] = transcript_statistics(session)
    moment = now()
    report = Report(
        session_id=session.session_id,
        session_ref=session.id,
        report_type=report_type,
        generated_at=moment,
        content=_report_content(content),
        created_at=moment,
    )
    report.save(force_insert=True)
    return report


def _report_content(content):
    """The embedded document of validated report content (attribute names)."""
    evidence, questions = content.get("evidence"), content.get("questions")
    return ReportContent(
        **{
            **content,
            "scores": ReportScores(**content["scores"]) if content.get("scores") else None,
            "statistics": ReportStatistics(**content["statistics"]),
            "evidence": ReportEvidence(**evidence) if evidence else None,
            "questions": [QuestionFeedback(**item) for item in questions or []],
        }
    )


def transcript_statistics(session):
    """totalDuration, questionCount and averageResponseTime (ms) of a session's transcript.

    totalDuration is the session's duration once ended, else the span of the transcript;
    a response time runs from an assistant question to the next user message.
    """
    messages = list(
        Message.objects.of_session(session).in_order().only("role", "timestamp", "metadata")
    )
    questions, waiting, response_times = 0, [], []
    for message in messages:
        if message.role == ASSISTANT and (message.metadata or {}).get("isQuestion"):
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


def latest_report(user, session_id, report_type=None):
    """The newest ready report of the session (of `report_type` when given)."""
    session = get_session(user, session_id)
    report = Report.objects.newest_of(session, report_type).ready().first()
    if report is None:
        raise NotFound("Report not found")
    return report


def get_report(user, session_id, report_id):
    """One report of the session, in any status."""
    session = get_session(user, session_id)
    report = None
    if ObjectId.is_valid(report_id):
        # By _id alone, then checked to be the session's (as get_owned does): a client polls
        # here while its report is generated, and the Rust server scans for _id plus a field.
        report = Report.objects.filter(id=report_id).first()
    if report is None or report.session_ref != session.id:
        raise NotFound("Report not found")
    return report


def list_reports(user, session_id):
    """Every report of the session, newest first."""
    session = get_session(user, session_id)
    return list(Report.objects.newest_of(session))


# --- generated reports ------------------------------------------------------------------
# A pending report is the job of one generation; the feedback module runs it through these.


def generation_transcript(session):
    """The transcript to generate feedback from: Conflict while the session is in progress,
    Invalid when it is empty. Messages as attribute dicts, in order."""
    if session.status == IN_PROGRESS:
        raise Conflict("Session is still in progress: end it before generating feedback")
    fields = ("role", "content", "timestamp", "metadata", "message_index")
    stored = Message.objects.of_session(session).in_order().only(*fields)
    messages = db.read_raw(Message, stored)
    if not messages:
        raise Invalid("The session has no transcript to give feedback on")
    return messages


def find_session(report):
    """The session of `report` whoever owns it (for workers acting on a claimed report)."""
    return Session.objects(session_id=report.session_id, id=report.session_ref).first()


def report_for_key(session, idempotency_key):
    """The report a generation with `idempotency_key` started, or None."""
    if not idempotency_key:
        return None
    return Report.objects.of_session(session).filter(idempotency_key=idempotency_key).first()


def start_report(session, idempotency_key=None, owner=None, lease_seconds=0):
    """Insert the pending report of a new generation, leased to `owner` (None: queued for a
    worker); returns (report, started). A report already started with the same key comes back
    unstarted; another running generation is a Conflict with its expected wait."""
    for _ in range(START_ATTEMPTS):
        moment = now()
        report = Report(
            session_id=session.session_id,
            session_ref=session.id,
            report_type="feedback",
            generated_at=moment,
            status=PENDING,
            generation=Report.objects.next_generation(session),
            idempotency_key=idempotency_key,
            lease_owner=owner,
            lease_expires_at=moment + timedelta(seconds=lease_seconds),
            created_at=moment,
        )
        try:
            report.save(force_insert=True)
            return report, True
        except NotUniqueError:
            # The unique indexes decided: one report per generation number, one per key.
            existing = report_for_key(session, idempotency_key)
            if existing is not None:
                return existing, False
            running = Report.objects.of_session(session).filter(status=PENDING).first()
            if running is not None:
                wait = (running.lease_expires_at - now()).total_seconds()
                raise Conflict(ALREADY_GENERATING, retry_after=max(wait, 1)) from None
        # That number's generation settled since it was read: take the next one.
    raise Conflict(ALREADY_GENERATING, retry_after=1)


def claim_report(owner, lease_seconds):
    """Lease the oldest pending report no live worker holds to `owner`; None when none waits."""
    moment = now()
    return Report.objects.claim_next(owner, moment, moment + timedelta(seconds=lease_seconds))


def finish_report(report, owner, content, generator):
    """Store the generated content; False when `owner` lost the lease meanwhile."""
    return _settle(report, owner, READY, generator, set__content=_report_content(content))


def fail_report(report, owner, generator):
    """Mark the report failed, keeping how (generator.error); False when the lease was lost."""
    return _settle(report, owner, FAILED, generator)


def _settle(report, owner, status, generator, **updates):
    """End the generation of `report` as `status` if `owner` still holds its lease."""
    return bool(
        Report.objects.leased_to(report.id, owner).update_one(
            set__status=status,
            set__generator=ReportGenerator(**generator),
            set__generated_at=now(),
            unset__lease_owner=True,
            unset__lease_expires_at=True,
            **updates,
        )
    )


def release_report(report, owner, retry_seconds):
    """Give the lease back, so any worker retries the report after `retry_seconds`."""
    return bool(
        Report.objects.leased_to(report.id, owner).update_one(
            unset__lease_owner=True,
            set__lease_expires_at=now() + timedelta(seconds=retry_seconds),
        )
    )


def discard_report(report, owner):
    """Delete a pending report whose generation failed in the request (errors store nothing)."""
    return bool(Report.objects.leased_to(report.id, owner).delete())
