"""Documents of the sessions blueprint: sessions, their transcript messages and reports."""

from mongoengine import (
    BooleanField,
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    FloatField,
    IntField,
    ListField,
    QuerySet,
    StringField,
)
from pymongo import ReturnDocument

INTERVIEW_TYPES = ("behavioral", "technical", "mixed", "dsa", "aptitude", "system-design")
DIFFICULTIES = ("easy", "mid", "hard", "entry", "senior", "lead")
INTERACTION_MODES = ("speech", "text")
IN_PROGRESS, COMPLETED, ABANDONED = "in_progress", "completed", "abandoned"
STATUSES = (IN_PROGRESS, COMPLETED, ABANDONED)
END_STATUSES = (COMPLETED, ABANDONED)
USER, ASSISTANT = "user", "assistant"
ROLES = (USER, ASSISTANT)
REPORT_TYPES = ("summary", "detailed", "feedback")
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


class SessionQuerySet(QuerySet):
    """Queries on sessions."""

    def owned_by(self, user):
        """The caller's own sessions."""
        return self.filter(user_id=user)

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

    def reserve_indexes(self, session_id, counts, claims, now):
        """Atomically take `counts["total"]` message indexes and bump the statistics.

        Matches only an in-progress session that has not yet claimed any of `claims`
        (clientMessageIds), and records them, so two racing retries of one message
        cannot both reserve. Returns the first reserved index, or None when nothing matched.
        """
        query = {"sessionId": session_id, "status": IN_PROGRESS}
        update = {"$inc": reservation(counts, 1), "$set": {"updatedAt": now}}
        if claims:
            query["claimedMessageIds"] = {"$nin": claims}
            update["$push"] = {"claimedMessageIds": {"$each": claims, "$slice": -CLAIM_WINDOW}}
        # Read the post-image and subtract: SecantusDB (the embedded server) can answer a
        # stale pre-image under concurrency, while its post-image is exact (as on MongoDB).
        after = self._collection.find_one_and_update(
            query,
            update,
            projection={"nextMessageIndex": 1},
            return_document=ReturnDocument.AFTER,
        )
        return None if after is None else after["nextMessageIndex"] - counts["total"]

    def release_indexes(self, session_id, first, counts, claims):
        """Undo the reservation at `first` whose messages could not be stored, unless a later
        append reserved after it (then its indexes stay a gap). True when released."""
        query = {"sessionId": session_id, "nextMessageIndex": first + counts["total"]}
        update = {"$inc": reservation(counts, -1)}
        if claims:
            query["claimedMessageIds"] = {"$all": claims}
            update["$pullAll"] = {"claimedMessageIds": claims}
        return self._collection.update_one(query, update).modified_count == 1


def reservation(counts, sign):
    """The `$inc` of reserving (sign 1) or releasing (-1) the indexes of `counts` messages."""
    return {
        "nextMessageIndex": sign * counts["total"],
        "statistics.totalMessages": sign * counts["total"],
        "statistics.userMessages": sign * counts["user"],
        "statistics.agentMessages": sign * counts["assistant"],
        "statistics.questionCount": sign * counts["questions"],
    }


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
    # The next messageIndex to hand out; advanced only by reserve_indexes().
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


class MessageMetadata(EmbeddedDocument):
    """What the agent knows about a message."""

    is_question = BooleanField(db_field="isQuestion")
    speaking_duration = FloatField(db_field="speakingDuration", min_value=0)


class MessageQuerySet(QuerySet):
    """Queries on transcript messages."""

    def of_session(self, session_id):
        """The messages of one session."""
        return self.filter(session_id=session_id)

    def with_client_ids(self, session_id, client_ids):
        """Messages of a session stored under any of `client_ids`, in transcript order."""
        return self.filter(session_id=session_id, client_message_id__in=client_ids).order_by(
            "message_index"
        )

    def in_order(self):
        """Transcript order."""
        return self.order_by("message_index")


class Message(Document):
    """One message of a session's transcript."""

    # The session's public sessionId (unique), so a transcript lives with its session's shard.
    session_id = StringField(db_field="sessionId", required=True)
    role = StringField(choices=ROLES, required=True)
    content = StringField(required=True)
    timestamp = DateTimeField(required=True)
    message_index = IntField(db_field="messageIndex", required=True, min_value=0)
    metadata = EmbeddedDocumentField(MessageMetadata)
    client_message_id = StringField(db_field="clientMessageId")
    created_at = DateTimeField(db_field="createdAt", required=True)

    meta = {
        "collection": "conversations",
        "queryset_class": MessageQuerySet,
        "indexes": [
            # Two messages can never share an index, whatever the application does.
            {"fields": ["session_id", "message_index"], "unique": True},
            # Idempotent appends: a clientMessageId is stored once per session; partial so
            # messages without one do not collide on null.
            {
                "fields": ["session_id", "client_message_id"],
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


class ReportQuerySet(QuerySet):
    """Queries on reports."""

    def of_session(self, session_id, report_type=None):
        """A session's reports (of one type when given), newest first."""
        queryset = self.filter(session_id=session_id)
        if report_type:
            queryset = queryset.filter(report_type=report_type)
        return queryset.order_by("-generated_at", "-id")

    def ready(self):
        """Finished reports (stored before statuses existed means ready)."""
        return self.filter(status__in=[READY, None])

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
    report_type = StringField(db_field="reportType", choices=REPORT_TYPES, required=True)
    generated_at = DateTimeField(db_field="generatedAt", required=True)
    # Pending reports have no content yet; posted and generated ready ones always do.
    content = EmbeddedDocumentField(ReportContent)
    status = StringField(choices=REPORT_STATUSES, default=READY)
    generator = EmbeddedDocumentField(ReportGenerator)
    idempotency_key = StringField(db_field="idempotencyKey")
    # A pending report is a generation job: whoever holds an unexpired lease runs it.
    lease_owner = StringField(db_field="leaseOwner")
    lease_expires_at = DateTimeField(db_field="leaseExpiresAt")
    claims = IntField(default=0)
    created_at = DateTimeField(db_field="createdAt", required=True)

    meta = {
        "collection": "reports",
        "queryset_class": ReportQuerySet,
        "indexes": [
            {"fields": ["session_id", "-generated_at", "-id"]},
            {"fields": ["session_id", "report_type", "-generated_at", "-id"]},
            # At most one generation per session at a time, whichever process starts it.
            {
                "fields": ["session_id"],
                "name": "one_pending_report_per_session",
                "unique": True,
                "partialFilterExpression": {"status": PENDING},
            },
            # A retried generation (same Idempotency-Key) finds the first one's report.
            {
                "fields": ["session_id", "idempotency_key"],
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
