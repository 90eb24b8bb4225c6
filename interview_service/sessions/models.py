"""Documents of the sessions blueprint: sessions, their transcript messages and reports."""

from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    FloatField,
    IntField,
    ListField,
    ObjectIdField,
    QuerySet,
    StringField,
)

from interview_service.querysets import OwnedQuerySet
from interview_service.vocabulary import INTERVIEW_TYPES

DIFFICULTIES = ("easy", "mid", "hard", "entry", "senior", "lead")
INTERACTION_MODES = ("speech", "text")
IN_PROGRESS, COMPLETED, ABANDONED = "in_progress", "completed", "abandoned"
STATUSES = (IN_PROGRESS, COMPLETED, ABANDONED)
END_STATUSES = (COMPLETED, ABANDONED)
USER, ASSISTANT = "user", "assistant"
ROLES = (USER, ASSISTANT)
REPORT_TYPES = ("summary", "detailed", "feedback")
# Every sessionId, generated or sent by a client; always matched whole (re.fullmatch).
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
PENDING, READY, FAILED = "pending", "ready", "failed"
REPORT_STATUSES = (PENDING, READY, FAILED)
# How many recent clientMessageIds a session remembers to make racing retries atomic.
CLAIM_WINDOW = 256


class SessionConfig(EmbeddedDocument):
    """What the candidate asked the agent for."""

    role = StringField()
    custom_role = StringField(db_field="customRole")
    company_name = StringField(db_field="companyName")
    interview_type = StringField(db_field="interviewType", choices=INTERVIEW_TYPES)
    difficulty = StringField(choices=DIFFICULTIES)
    interaction_mode = StringField(db_field="interactionMode", choices=INTERACTION_MODES)
    # The performance blueprint's interview this session is for (its report becomes its result).
    interview_id = StringField(db_field="interviewId")


class Resume(EmbeddedDocument):
    """The candidate's résumé as text."""

    file_name = StringField(db_field="fileName")
    content = StringField()


class SessionStatistics(EmbeddedDocument):
    """Message counts, maintained by the server with `$inc` on every append."""

    question_count = IntField(db_field="questionCount", default=0)
    total_messages = IntField(db_field="totalMessages", default=0)
    user_messages = IntField(db_field="userMessages", default=0)
    agent_messages = IntField(db_field="agentMessages", default=0)


class SessionQuerySet(OwnedQuerySet):
    """Queries on sessions."""

    def oldest_first(self):
        """Creation order (the export's)."""
        return self.order_by("created_at", "id")

    def with_status(self, status):
        """Sessions in `status` (all when None)."""
        return self.filter(status=status) if status else self

    def created_before(self, moment):
        """Sessions created before `moment` (owned or anonymous), oldest first."""
        return self.filter(created_at__lt=moment).order_by("created_at", "id")

    def idle_since(self, moment):
        """In-progress sessions with no activity since `moment`."""
        return self.filter(status=IN_PROGRESS, updated_at__lt=moment)

    def reserve_indexes(self, session, counts, claims, now):
        """Take `counts["total"]` message indexes at the counter `session` was read with.

        One conditional update on the session's `_id`: it matches only while the session is in
        progress, its counter still stands where `session` read it, and none of `claims`
        (clientMessageIds) is recorded yet; it moves the counter with the statistics and records
        the claims, so of two racing appends (or retries of one message) exactly one reserves.
        True when it did; on a miss the caller reads the session again.
        """
        query = self.filter(
            id=session.id, status=IN_PROGRESS, next_message_index=session.next_message_index
        )
        update = {"$inc": _counter_moves(counts, 1), "$set": {_stored("updated_at"): now}}
        if claims:
            query = query.filter(claimed_message_ids__nin=claims)
            update["$push"] = {
                _stored("claimed_message_ids"): {"$each": claims, "$slice": -CLAIM_WINDOW}
            }
        return self._update_one(query, update)

    def release_indexes(self, session, first, counts, claims):
        """Give back the indexes reserved at `first` whose messages could not be stored, unless a
        later append reserved after them (then they stay a gap). True when released."""
        query = self.filter(id=session.id, next_message_index=first + counts["total"])
        update = {"$inc": _counter_moves(counts, -1)}
        if claims:
            query = query.filter(claimed_message_ids__all=claims)
            update["$pullAll"] = {_stored("claimed_message_ids"): claims}
        return self._update_one(query, update)

    def set_statistics(self, session, counts):
        """Store `counts` as the statistics of `session`, unless it changed since it was read."""
        query = self.filter(
            id=session.id,
            next_message_index=session.next_message_index,
            updated_at=session.updated_at,
        )
        statistics = {_stored(name): counts[key] for name, key in STATISTICS_COUNTS.items()}
        return self._update_one(query, {"$set": statistics})

    def _update_one(self, query, update):
        """Apply `update` to the document `query` matches; True when one changed. Through the
        driver, so a database fault surfaces as the driver's error (503), not MongoEngine's."""
        return self._collection.update_one(query._query, update).modified_count == 1


# Which of the counts of an append (total, user, assistant, questions) each statistic adds up.
STATISTICS_COUNTS = {
    "statistics.total_messages": "total",
    "statistics.user_messages": "user",
    "statistics.agent_messages": "assistant",
    "statistics.question_count": "questions",
}


def append_counts(messages):
    """What `messages` (dicts of Message attributes) add to the statistics."""
    users = sum(1 for m in messages if m["role"] == USER)
    questions = sum(
        1
        for m in messages
        if m["role"] == ASSISTANT and (m.get("metadata") or {}).get("isQuestion")
    )
    return {
        "total": len(messages),
        "user": users,
        "assistant": len(messages) - users,
        "questions": questions,
    }


def statistics_of(counts):
    """The SessionStatistics attributes of `counts`."""
    return {
        path.removeprefix("statistics."): counts[key] for path, key in STATISTICS_COUNTS.items()
    }


def _stored(name):
    """The stored name of a Session attribute path (`statistics.total_messages`)."""
    return Session._translate_field_name(name)


def _counter_moves(counts, sign):
    """The `$inc` moving the transcript counter and statistics by `counts` (sign 1) or back (-1)."""
    moves = {"next_message_index": "total", **STATISTICS_COUNTS}
    return {_stored(name): sign * counts[key] for name, key in moves.items()}


class Session(Document):
    """One interview run by the agent."""

    session_id = StringField(db_field="sessionId", required=True)
    user_id = StringField(db_field="userId")
    config = EmbeddedDocumentField(SessionConfig, required=True)
    resume = EmbeddedDocumentField(Resume)
    start_time = DateTimeField(db_field="startTime", required=True)
    end_time = DateTimeField(db_field="endTime")
    duration = IntField(min_value=0)
    status = StringField(choices=STATUSES, default=IN_PROGRESS)
    statistics = EmbeddedDocumentField(SessionStatistics, default=SessionStatistics)
    # The next messageIndex to hand out; moved only by reserve_indexes()/release_indexes().
    next_message_index = IntField(db_field="nextMessageIndex", default=0)
    claimed_message_ids = ListField(StringField(), db_field="claimedMessageIds")
    created_at = DateTimeField(db_field="createdAt", required=True)
    updated_at = DateTimeField(db_field="updatedAt", required=True)

    meta = {
        "collection": "sessions",
        "queryset_class": SessionQuerySet,
        "indexes": [
            {"fields": ["session_id"], "unique": True},
            {"fields": ["user_id", "-created_at", "-id"]},
            {"fields": ["user_id", "status", "-created_at", "-id"]},
            {"fields": ["status", "updated_at"]},
            # Retention: `purge --older-than` deletes by creation time across all owners.
            {"fields": ["created_at", "id"]},
        ],
    }


class SessionChildQuerySet(QuerySet):
    """Queries on what belongs to a session (its messages, its reports)."""

    def of_session(self, session):
        """What belongs to `session` (a Session document): its sessionId and its `_id`, so
        nothing left by an earlier session of the same sessionId is ever reached."""
        return self.filter(session_id=session.session_id, session_ref=session.id)

    def of_sessions(self, keys):
        """What belongs to the sessions of `keys`, (sessionId, _id) pairs."""
        keys = list(keys)
        return self.filter(
            session_id__in=[session_id for session_id, _ in keys],
            session_ref__in=[ref for _, ref in keys],
        )


class MessageQuerySet(SessionChildQuerySet):
    """Queries on transcript messages."""

    def with_client_ids(self, session, client_ids):
        """Messages of a session stored under any of `client_ids`, in transcript order."""
        return (
            self.of_session(session)
            .filter(client_message_id__in=client_ids)
            .order_by("message_index")
        )

    def in_order(self):
        """Transcript order."""
        return self.order_by("message_index")


class Message(Document):
    """One message of a session's transcript."""

    # The session's public sessionId, so a transcript lives with its session's shard.
    session_id = StringField(db_field="sessionId", required=True)
    # The session document's _id: a deleted sessionId can be created again, an _id never, so
    # messages an append stored after a delete never reach the next session of that sessionId.
    session_ref = ObjectIdField(db_field="sessionRef", required=True)
    role = StringField(choices=ROLES, required=True)
    content = StringField(required=True)
    timestamp = DateTimeField(required=True)
    message_index = IntField(db_field="messageIndex", required=True, min_value=0)
    # As the agent sent it: `isQuestion`, `speakingDuration` and its own keys (checked and
    # bounded by the request schema).
    metadata = DictField(default=None)
    client_message_id = StringField(db_field="clientMessageId")
    created_at = DateTimeField(db_field="createdAt", required=True)

    meta = {
        "collection": "conversations",
        "queryset_class": MessageQuerySet,
        "indexes": [
            # Two messages can never share an index, whatever the application does.
            {"fields": ["session_id", "session_ref", "message_index"], "unique": True},
            # Idempotent appends: a clientMessageId is stored once per session; partial so
            # messages without one do not collide on null.
            {
                "fields": ["session_id", "session_ref", "client_message_id"],
                "unique": True,
                "partialFilterExpression": {"clientMessageId": {"$type": "string"}},
            },
        ],
    }


class ReportScores(EmbeddedDocument):
    """Scores 0–100."""

    overall = FloatField(min_value=0, max_value=100)
    communication = FloatField(min_value=0, max_value=100)
    technical = FloatField(min_value=0, max_value=100)
    behavior = FloatField(min_value=0, max_value=100)


class ReportStatistics(EmbeddedDocument):
    """Timing figures of the interview (milliseconds)."""

    total_duration = IntField(db_field="totalDuration", min_value=0)
    question_count = IntField(db_field="questionCount", min_value=0)
    average_response_time = FloatField(db_field="averageResponseTime", min_value=0)


class ReportEvidence(EmbeddedDocument):
    """The messageIndexes each strength, weakness and recommendation rests on (same order)."""

    strengths = ListField(ListField(IntField()))
    weaknesses = ListField(ListField(IntField()))
    recommendations = ListField(ListField(IntField()))


class QuestionFeedback(EmbeddedDocument):
    """The feedback on one answered question: the assistant's message and the answers to it."""

    question_index = IntField(db_field="questionIndex", required=True, min_value=0)
    answer_indexes = ListField(IntField(min_value=0), db_field="answerIndexes")
    score = FloatField(min_value=0, max_value=100)
    feedback = StringField()


class ReportContent(EmbeddedDocument):
    """The feedback itself."""

    summary = StringField()
    strengths = ListField(StringField())
    weaknesses = ListField(StringField())
    recommendations = ListField(StringField())
    scores = EmbeddedDocumentField(ReportScores)
    statistics = EmbeddedDocumentField(ReportStatistics)
    evidence = EmbeddedDocumentField(ReportEvidence)
    questions = ListField(EmbeddedDocumentField(QuestionFeedback))


class ReportGenerator(EmbeddedDocument):
    """How a generated report was made: model, prompt, cost and outcome."""

    provider = StringField()
    model = StringField()
    prompt_version = StringField(db_field="promptVersion")
    latency_ms = IntField(db_field="latencyMs", min_value=0)
    input_tokens = IntField(db_field="inputTokens", min_value=0)
    output_tokens = IntField(db_field="outputTokens", min_value=0)
    attempts = IntField(min_value=0)
    error = StringField()


class ReportQuerySet(SessionChildQuerySet):
    """Queries on reports."""

    def newest_of(self, session, report_type=None):
        """A session's reports (of one type when given), newest first."""
        queryset = self.of_session(session)
        if report_type:
            queryset = queryset.filter(report_type=report_type)
        return queryset.order_by("-generated_at", "-id")

    def ready(self):
        """Finished reports (stored before statuses existed means ready)."""
        return self.filter(status__in=[READY, None])

    def next_generation(self, session):
        """The number a new generation of `session` takes: one past its settled generations."""
        settled = (
            self.of_session(session)
            .filter(generation__exists=True, status__ne=PENDING)
            .order_by("-generation")
            .scalar("generation")
            .first()
        )
        return (settled or 0) + 1

    def claim_next(self, owner, now, lease_until):
        """Atomically lease the oldest pending report whose lease expired to `owner`."""
        return (
            self.filter(status=PENDING, lease_expires_at__lte=now)
            .order_by("lease_expires_at")
            .modify(
                set__lease_owner=owner, set__lease_expires_at=lease_until, inc__claims=1, new=True
            )
        )

    def leased_to(self, report_id, owner):
        """The pending report `report_id` while `owner` still holds its lease."""
        return self.filter(id=report_id, status=PENDING, lease_owner=owner)


class Report(Document):
    """A feedback report written at the end of a session."""

    session_id = StringField(db_field="sessionId", required=True)
    session_ref = ObjectIdField(db_field="sessionRef", required=True)  # as on Message
    report_type = StringField(db_field="reportType", choices=REPORT_TYPES, required=True)
    generated_at = DateTimeField(db_field="generatedAt", required=True)
    # Pending reports have no content yet; posted and generated ready ones always do.
    content = EmbeddedDocumentField(ReportContent)
    status = StringField(choices=REPORT_STATUSES, default=READY)
    generator = EmbeddedDocumentField(ReportGenerator)
    idempotency_key = StringField(db_field="idempotencyKey")
    # Generated reports count 1, 2, … per session (posted ones have none): a new generation
    # takes the number after the settled ones, so while one runs a second takes the same number.
    generation = IntField(min_value=1)
    # A pending report is a generation job: whoever holds an unexpired lease runs it.
    lease_owner = StringField(db_field="leaseOwner")
    lease_expires_at = DateTimeField(db_field="leaseExpiresAt")
    claims = IntField(default=0)
    created_at = DateTimeField(db_field="createdAt", required=True)

    meta = {
        "collection": "reports",
        "queryset_class": ReportQuerySet,
        "indexes": [
            {"fields": ["session_id", "session_ref", "-generated_at", "-id"]},
            {"fields": ["session_id", "session_ref", "report_type", "-generated_at", "-id"]},
            # At most one generation per session at a time, whichever process starts it: its
            # key never changes once inserted (a partial index on the status would have the key
            # leave on settling, and secantusd-rs keeps an updated document's old unique keys).
            {
                "fields": ["session_id", "session_ref", "generation"],
                "name": "one_generation_per_number",
                "unique": True,
                "partialFilterExpression": {"generation": {"$exists": True}},
            },
            # A retried generation (same Idempotency-Key) finds the first one's report.
            {
                "fields": ["session_id", "session_ref", "idempotency_key"],
                "unique": True,
                "partialFilterExpression": {"idempotencyKey": {"$type": "string"}},
            },
            # The workers' queue: pending reports by lease expiry (across sessions).
            {
                "fields": ["lease_expires_at"],
                "partialFilterExpression": {"status": PENDING},
            },
        ],
    }


DOCUMENTS = [Session, Message, Report]
# Unique indexes of earlier versions: `flask repair` drops them. Those keyed by sessionId alone
# would refuse the messages of a session created again under a deleted sessionId; the pending
# report's (partial on the status) would refuse a session's second generation on secantusd-rs.
SUPERSEDED_INDEXES = {
    Message: [
        [("sessionId", 1), ("messageIndex", 1)],
        [("sessionId", 1), ("clientMessageId", 1)],
    ],
    Report: [[("sessionId", 1), ("sessionRef", 1)]],
}
