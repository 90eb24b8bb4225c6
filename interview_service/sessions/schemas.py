"""Request and response schemas of the sessions blueprint (JSON keys camelCase)."""

import json
import re

import marshmallow as ma
from flask import current_app
from marshmallow import ValidationError, fields, post_dump, post_load, validate, validates_schema

from interview_service.pagination import INT64_MAX
from interview_service.schemas import (
    OBJECT_ID,
    Cursor,
    FullMatch,
    LegacyIdSchema,
    ListOrEmpty,
    PageArgsSchema,
    ResponseSchema,
    StrictBoolean,
    UTCDateTime,
    count,
    page_schema,
)
from interview_service.sessions.models import (
    DIFFICULTIES,
    END_STATUSES,
    INTERACTION_MODES,
    INTERVIEW_TYPES,
    READY,
    REPORT_STATUSES,
    REPORT_TYPES,
    ROLES,
    SESSION_ID_PATTERN,
    STATUSES,
)

CLIENT_MESSAGE_ID = validate.Length(min=1, max=128)
MAX_BATCH = 100
SHORT_TEXT = validate.Length(max=200)
LIST_TEXT = validate.Length(max=2000)
METADATA_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
MAX_METADATA_KEYS = 32
MAX_METADATA_BYTES = 4096


class MaxCharsFromConfig(validate.Validator):
    """Length limit read from the app config at validation time (e.g. MESSAGE_MAX_CHARS)."""

    def __init__(self, setting):
        self.setting = setting

    def __call__(self, value):
        limit = current_app.config[self.setting]
        if len(value) > limit:
            raise ValidationError(f"Longer than {limit} characters.")
        return value


# --- requests ---------------------------------------------------------------------------


class SessionConfigSchema(ma.Schema):
    """The interview the candidate asked for."""

    role = fields.String(required=True, validate=validate.Length(min=1, max=200))
    custom_role = fields.String(data_key="customRole", allow_none=True, validate=SHORT_TEXT)
    company_name = fields.String(data_key="companyName", allow_none=True, validate=SHORT_TEXT)
    interview_type = fields.String(
        data_key="interviewType", required=True, validate=validate.OneOf(INTERVIEW_TYPES)
    )
    difficulty = fields.String(required=True, validate=validate.OneOf(DIFFICULTIES))
    interaction_mode = fields.String(
        data_key="interactionMode", allow_none=True, validate=validate.OneOf(INTERACTION_MODES)
    )
    interview_id = fields.String(
        data_key="interviewId",
        allow_none=True,
        validate=OBJECT_ID,
        metadata={"description": "An interview of the same user; its result comes from reports"},
    )


class ResumeSchema(ma.Schema):
    """The résumé as text (RESUME_MAX_CHARS at most)."""

    file_name = fields.String(data_key="fileName", allow_none=True, validate=SHORT_TEXT)
    content = fields.String(allow_none=True, validate=MaxCharsFromConfig("RESUME_MAX_CHARS"))


class SessionCreateSchema(ma.Schema):
    """Body of POST /api/sessions."""

    session_id = fields.String(
        data_key="sessionId",
        validate=FullMatch(SESSION_ID_PATTERN, error="Must be 16-64 of A-Z a-z 0-9 _ -."),
        metadata={
            "description": "Optional; the server draws 192 random bits when it is left out. "
            "With a token: the same sessionId again by its owner answers 200 with the existing "
            "session, by anyone else 409. Without a token (an anonymous session, reached by "
            "this id alone) it must hold at least 128 random bits (22+ random base64url "
            "characters, 32+ hex digits; a repeated pattern is refused: 422), and the same "
            "sessionId again answers 200 only with the same config and resume, else 409."
        },
    )
    config = fields.Nested(SessionConfigSchema, required=True)
    resume = fields.Nested(ResumeSchema, allow_none=True)


def _bad_keys(value, path=""):
    """Dotted paths of the keys in `value` (nested objects too) that are not METADATA_KEY names."""
    if isinstance(value, list):
        return [bad for item in value for bad in _bad_keys(item, path)]
    if not isinstance(value, dict):
        return []
    bad = []
    for key, item in value.items():
        if not METADATA_KEY.fullmatch(key):
            bad.append(f"{path}{key}")
        bad += _bad_keys(item, f"{path}{key}.")
    return bad


class MessageMetadataSchema(ma.Schema):
    """What the agent knows about a message: `isQuestion` and `speakingDuration` are checked,
    any other key is kept as sent (JSON values) within MAX_METADATA_KEYS and MAX_METADATA_BYTES."""

    class Meta:
        unknown = ma.INCLUDE

    # Loaded under their JSON names: metadata is stored and answered as the agent sent it.
    is_question = StrictBoolean(
        data_key="isQuestion", attribute="isQuestion", allow_none=True, dump_default=None
    )
    speaking_duration = fields.Float(
        data_key="speakingDuration",
        attribute="speakingDuration",
        allow_none=True,
        dump_default=None,
        validate=validate.Range(min=0),
    )

    @validates_schema
    def within_bounds(self, data, **kwargs):
        """Plain key names at every level (no `$`, no dots), a bounded count and size."""
        bad = _bad_keys(data)
        if bad:
            rule = f"Key names must match ^{METADATA_KEY.pattern}$ (no $, no dots)"
            raise ValidationError({key: [rule] for key in bad})
        if len(data) > MAX_METADATA_KEYS:
            raise ValidationError(f"At most {MAX_METADATA_KEYS} keys")
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        if len(encoded) > MAX_METADATA_BYTES:
            raise ValidationError(f"At most {MAX_METADATA_BYTES} bytes of JSON")

    @post_dump(pass_original=True)
    def with_other_keys(self, data, original, **kwargs):
        """Every stored key, the two checked ones formatted."""
        return {**original, **data}


class MessageCreateSchema(ma.Schema):
    """One message to append."""

    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    content = fields.String(
        required=True,
        validate=[validate.Length(min=1), MaxCharsFromConfig("MESSAGE_MAX_CHARS")],
    )
    timestamp = UTCDateTime()
    metadata = fields.Nested(
        MessageMetadataSchema,
        allow_none=True,
        metadata={
            "description": f"isQuestion and speakingDuration are checked; other keys are kept as "
            f"sent: at most {MAX_METADATA_KEYS} keys and {MAX_METADATA_BYTES} bytes of JSON, "
            f"names ^{METADATA_KEY.pattern}$ at every level"
        },
    )
    client_message_id = fields.String(data_key="clientMessageId", validate=CLIENT_MESSAGE_ID)


class ConversationAppendSchema(MessageCreateSchema):
    """Body of POST …/conversations: one message, or `{messages: [...]}` (a batch)."""

    role = fields.String(validate=validate.OneOf(ROLES))
    content = fields.String(
        validate=[validate.Length(min=1), MaxCharsFromConfig("MESSAGE_MAX_CHARS")]
    )
    messages = fields.List(
        fields.Nested(MessageCreateSchema), validate=validate.Length(min=1, max=MAX_BATCH)
    )

    @validates_schema
    def one_message_or_a_batch(self, data, **kwargs):
        """Either the fields of one message or `messages`, not both."""
        if "messages" in data:
            if set(data) != {"messages"}:
                raise ValidationError("Send one message or `messages`, not both.", "messages")
            return
        missing = {key: ["Missing data for required field."] for key in ("role", "content")}
        for key in ("role", "content"):
            if key in data:
                missing.pop(key)
        if missing:
            raise ValidationError(missing)

    @post_load
    def as_batch(self, data, **kwargs):
        """Normalise to `{messages, batch}`."""
        if "messages" in data:
            return {"messages": data["messages"], "batch": True}
        return {"messages": [data], "batch": False}


class IdempotencyHeaderSchema(ma.Schema):
    """The optional `Idempotency-Key` header (same role as clientMessageId)."""

    idempotency_key = fields.String(data_key="Idempotency-Key", validate=CLIENT_MESSAGE_ID)


class StatisticsSchema(ma.Schema):
    """Message counts."""

    question_count = count("questionCount")
    total_messages = count("totalMessages")
    user_messages = count("userMessages")
    agent_messages = count("agentMessages")


class SessionEndSchema(ma.Schema):
    """Body of PUT …/end. Client statistics are accepted but the server's counts win."""

    end_time = UTCDateTime(data_key="endTime", allow_none=True)
    statistics = fields.Nested(StatisticsSchema, allow_none=True)
    status = fields.String(load_default="completed", validate=validate.OneOf(END_STATUSES))


class ScoresSchema(ma.Schema):
    """Scores 0–100."""

    overall = fields.Float(allow_none=True, validate=validate.Range(min=0, max=100))
    communication = fields.Float(allow_none=True, validate=validate.Range(min=0, max=100))
    technical = fields.Float(allow_none=True, validate=validate.Range(min=0, max=100))
    behavior = fields.Float(allow_none=True, validate=validate.Range(min=0, max=100))


class ReportStatisticsSchema(ma.Schema):
    """Timing figures (milliseconds)."""

    total_duration = count("totalDuration", allow_none=True)
    question_count = count("questionCount", allow_none=True)
    average_response_time = fields.Float(
        data_key="averageResponseTime", allow_none=True, validate=validate.Range(min=0)
    )


def _text_list():
    return fields.List(
        fields.String(validate=LIST_TEXT), validate=validate.Length(max=100), allow_none=True
    )


class ReportContentSchema(ma.Schema):
    """The feedback itself."""

    summary = fields.String(allow_none=True, validate=MaxCharsFromConfig("MESSAGE_MAX_CHARS"))
    strengths = _text_list()
    weaknesses = _text_list()
    recommendations = _text_list()
    scores = fields.Nested(ScoresSchema, allow_none=True)
    statistics = fields.Nested(ReportStatisticsSchema, allow_none=True)


class GeneratedScoresSchema(ScoresSchema):
    """Scores of a generated report: every one given."""

    overall = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    communication = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    technical = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    behavior = fields.Float(required=True, validate=validate.Range(min=0, max=100))


def _index_lists():
    return fields.List(
        fields.List(
            fields.Integer(validate=validate.Range(min=0)), validate=validate.Length(max=50)
        ),
        required=True,
        validate=validate.Length(max=100),
    )


class EvidenceSchema(ma.Schema):
    """The messageIndexes each strength, weakness and recommendation rests on, in their order."""

    strengths = _index_lists()
    weaknesses = _index_lists()
    recommendations = _index_lists()


class QuestionFeedbackSchema(ma.Schema):
    """The feedback on one answered question."""

    question_index = fields.Integer(
        data_key="questionIndex", required=True, validate=validate.Range(min=0)
    )
    answer_indexes = fields.List(
        fields.Integer(validate=validate.Range(min=0)),
        data_key="answerIndexes",
        required=True,
        validate=validate.Length(max=50),
    )
    score = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    feedback = fields.String(required=True, validate=LIST_TEXT)


class GeneratedContentSchema(ReportContentSchema):
    """A report's content with what generation adds: evidence and per-question feedback."""

    summary = fields.String(
        required=True, validate=[validate.Length(min=1), MaxCharsFromConfig("MESSAGE_MAX_CHARS")]
    )
    strengths = fields.List(fields.String(validate=LIST_TEXT), required=True)
    weaknesses = fields.List(fields.String(validate=LIST_TEXT), required=True)
    recommendations = fields.List(fields.String(validate=LIST_TEXT), required=True)
    scores = fields.Nested(GeneratedScoresSchema, required=True)
    evidence = fields.Nested(EvidenceSchema, required=True)
    questions = fields.List(
        fields.Nested(QuestionFeedbackSchema), required=True, validate=validate.Length(max=200)
    )

    @validates_schema
    def evidence_per_item(self, data, **kwargs):
        """One list of messageIndexes per strength, weakness and recommendation."""
        evidence = data.get("evidence") or {}
        errors = {
            kind: [f"Needs one list of messageIndexes per item of `{kind}`."]
            for kind in ("strengths", "weaknesses", "recommendations")
            if kind in evidence and len(evidence[kind]) != len(data.get(kind) or [])
        }
        if errors:
            raise ValidationError({"evidence": errors})


class ReportContentOutSchema(ReportContentSchema):
    """The feedback as answered: its lists are `[]` when not sent (clients iterate them)."""

    strengths = ListOrEmpty(fields.String())
    weaknesses = ListOrEmpty(fields.String())
    recommendations = ListOrEmpty(fields.String())
    evidence = fields.Nested(EvidenceSchema, allow_none=True)
    questions = ListOrEmpty(fields.Nested(QuestionFeedbackSchema))


class ReportCreateSchema(ma.Schema):
    """Body of POST …/reports."""

    report_type = fields.String(
        data_key="reportType", required=True, validate=validate.OneOf(REPORT_TYPES)
    )
    content = fields.Nested(ReportContentSchema, required=True)


class ReportArgsSchema(ma.Schema):
    """Query of GET …/report."""

    report_type = fields.String(data_key="reportType", validate=validate.OneOf(REPORT_TYPES))


class SessionListArgsSchema(PageArgsSchema):
    """Query of GET /api/sessions."""

    status = fields.String(validate=validate.OneOf(STATUSES))


class MessagePageArgsSchema(PageArgsSchema):
    """Query of GET …/conversations: `after` a messageIndex, or the opaque `cursor`."""

    after = fields.Integer(
        validate=[
            validate.Range(min=0),
            validate.Range(max=INT64_MAX, error="Must be a 64-bit integer."),
        ]
    )
    cursor = Cursor(int)


# --- responses --------------------------------------------------------------------------


class SessionSchema(LegacyIdSchema):
    """A session as the SPA reads it."""

    id = fields.String()
    session_id = fields.String(data_key="sessionId")
    user_id = fields.String(data_key="userId", allow_none=True)
    config = fields.Nested(SessionConfigSchema)
    resume = fields.Nested(ResumeSchema, allow_none=True)
    start_time = UTCDateTime(data_key="startTime")
    end_time = UTCDateTime(data_key="endTime", allow_none=True)
    duration = fields.Integer(allow_none=True)
    status = fields.String()
    statistics = fields.Nested(StatisticsSchema)
    created_at = UTCDateTime(data_key="createdAt")
    updated_at = UTCDateTime(data_key="updatedAt")


class ResumeFileSchema(ma.Schema):
    """The résumé's file name only (lists leave the text out)."""

    file_name = fields.String(data_key="fileName", allow_none=True)


class SessionSummarySchema(SessionSchema):
    """A session in a list: everything but the résumé text."""

    resume = fields.Nested(ResumeFileSchema, allow_none=True)


class MessageSchema(LegacyIdSchema):
    """A transcript message."""

    id = fields.String()
    session_id = fields.String(data_key="sessionId")
    role = fields.String()
    content = fields.String()
    timestamp = UTCDateTime()
    message_index = fields.Integer(data_key="messageIndex")
    metadata = fields.Nested(MessageMetadataSchema, allow_none=True)
    client_message_id = fields.String(data_key="clientMessageId", allow_none=True)
    created_at = UTCDateTime(data_key="createdAt")


class ReportGeneratorSchema(ma.Schema):
    """How a generated report was made."""

    provider = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    prompt_version = fields.String(data_key="promptVersion", allow_none=True)
    latency_ms = fields.Integer(data_key="latencyMs", allow_none=True)
    input_tokens = fields.Integer(data_key="inputTokens", allow_none=True)
    output_tokens = fields.Integer(data_key="outputTokens", allow_none=True)
    attempts = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)


class ReportSchema(ma.Schema):
    """A report (content is null while it is pending)."""

    id = fields.String()
    session_id = fields.String(data_key="sessionId")
    report_type = fields.String(data_key="reportType")
    status = fields.String(dump_default=READY, metadata={"enum": list(REPORT_STATUSES)})
    generated_at = UTCDateTime(data_key="generatedAt")
    content = fields.Nested(ReportContentOutSchema, allow_none=True)
    generator = fields.Nested(ReportGeneratorSchema, allow_none=True)
    created_at = UTCDateTime(data_key="createdAt")


class SessionCreatedSchema(ResponseSchema):
    """Answer of POST /api/sessions."""

    session_id = fields.String(data_key="sessionId")
    session = fields.Nested(SessionSchema)


class SessionDetailSchema(ResponseSchema):
    """Answer of GET /api/sessions/{sessionId}: the session, its transcript, latest report."""

    session = fields.Nested(SessionSchema)
    conversations = fields.List(fields.Nested(MessageSchema))
    report = fields.Nested(ReportSchema, allow_none=True)


class SessionResponseSchema(ResponseSchema):
    """`{session}`."""

    session = fields.Nested(SessionSchema)


class ConversationAppendedSchema(ResponseSchema):
    """Answer of an append: one message, or a batch (messageIndexes, conversations)."""

    message_index = fields.Integer(data_key="messageIndex")
    conversation = fields.Nested(MessageSchema)
    message_indexes = fields.List(fields.Integer(), data_key="messageIndexes")
    conversations = fields.List(fields.Nested(MessageSchema))


class ReportResponseSchema(ResponseSchema):
    """`{report}`."""

    report = fields.Nested(ReportSchema)


# The caller's sessions (résumé text left out).
SessionPageSchema = page_schema(SessionSummarySchema, "Session")
# A transcript page, with what the agent SPA reads of the original's answer.
MessagePageSchema = page_schema(
    MessageSchema,
    session_id=fields.String(data_key="sessionId"),
    session_status=fields.String(data_key="sessionStatus"),
    count=fields.Integer(metadata={"description": "Messages in the whole session"}),
    conversations=fields.List(
        fields.Nested(MessageSchema),
        attribute="items",
        dump_only=True,
        metadata={"description": "The same messages as `items`"},
    ),
)


class ReportListSchema(ResponseSchema):
    """Every report of a session, newest first."""

    items = fields.List(fields.Nested(ReportSchema))


class ExportedSessionSchema(ma.Schema):
    """A session with its whole transcript (in order) and every report (newest first)."""

    session = fields.Nested(SessionSchema)
    conversations = fields.List(fields.Nested(MessageSchema))
    reports = fields.List(fields.Nested(ReportSchema))


# The account export's parts from this module: name → schema of each item.
EXPORT_SCHEMAS = {"sessions": ExportedSessionSchema}
