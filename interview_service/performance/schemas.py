"""Request and response schemas of the performance blueprint (JSON keys are camelCase)."""

from datetime import datetime

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from interview_service.performance.models import (
    EXPERIENCE_LEVELS,
    INTERVIEW_STATUSES,
    INTERVIEW_TYPES,
    search_tokens,
)
from interview_service.schemas import (
    OBJECT_ID,
    Cursor,
    LegacyIdSchema,
    ListOrEmpty,
    PageArgsSchema,
    ResponseSchema,
    UTCDateTime,
    count,
    page_schema,
)

NAME = validate.Length(min=1, max=200)
THEME = fields.String(validate=validate.Length(max=2000))
MAX_MINUTES = 7 * 24 * 60  # a week: keeps sums finite and catches unit mistakes (seconds, ms)
MAX_QUESTIONS = 10_000


def question_count(data_key):
    """An optional count of questions (0..MAX_QUESTIONS)."""
    return count(data_key, maximum=MAX_QUESTIONS, allow_none=True)


def minutes_spent():
    """An optional time spent, in minutes (0..MAX_MINUTES)."""
    return fields.Float(
        data_key="timeSpent", allow_none=True, validate=validate.Range(min=0, max=MAX_MINUTES)
    )


MAX_QUERY_WORDS = 10
SORTS = ("completedAt", "-completedAt", "score", "-score")


def _not_blank(value):
    if not value.strip():
        raise ma.ValidationError("Must not be blank")


# --- interviews ---------------------------------------------------------------------------


class InterviewCreateSchema(ma.Schema):
    """A new interview for the dashboard."""

    job_title = fields.String(data_key="jobTitle", required=True, validate=[NAME, _not_blank])
    company_name = fields.String(data_key="companyName", required=True, validate=[NAME, _not_blank])
    interview_type = fields.String(
        data_key="interviewType", required=True, validate=validate.OneOf(INTERVIEW_TYPES)
    )
    experience_level = fields.String(
        data_key="experienceLevel", required=True, validate=validate.OneOf(EXPERIENCE_LEVELS)
    )


class InterviewUpdateSchema(ma.Schema):
    """A status change; only ready → in-progress is allowed (completion comes with a save)."""

    status = fields.String(required=True, validate=validate.OneOf(INTERVIEW_STATUSES))


class InterviewListArgsSchema(PageArgsSchema):
    """`?status=&limit=&cursor=` of the interview list."""

    status = fields.String(validate=validate.OneOf(INTERVIEW_STATUSES))


class UserInterviewsArgsSchema(ma.Schema):
    """`?limit=` of the legacy dashboard list."""

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class InterviewIdArgsSchema(ma.Schema):
    """The interview id of the legacy delete, in the JSON body or the query string."""

    interview_id = fields.String(data_key="interviewId", validate=OBJECT_ID)


class InterviewSchema(ma.Schema):
    """An interview as the SPA reads it."""

    id = fields.String()
    job_title = fields.String(data_key="jobTitle")
    company_name = fields.String(data_key="companyName")
    interview_type = fields.String(data_key="interviewType")
    experience_level = fields.String(data_key="experienceLevel")
    status = fields.String()
    created_at = UTCDateTime(data_key="createdAt")
    completed_at = UTCDateTime(data_key="completedAt", allow_none=True)
    performance_id = fields.String(data_key="performanceId", allow_none=True)


class LegacyInterviewSchema(InterviewSchema, LegacyIdSchema):
    """An interview on the legacy paths: `_id` beside `id`."""


class InterviewResponseSchema(ResponseSchema):
    """One interview."""

    interview = fields.Nested(InterviewSchema)


InterviewPageSchema = page_schema(InterviewSchema)


class InterviewCountsSchema(ma.Schema):
    """Counts of the caller's interviews."""

    total = fields.Integer()
    completed = fields.Integer()
    in_progress = fields.Integer(
        data_key="inProgress", metadata={"description": "Not completed: ready or in-progress"}
    )


class UserInterviewsSchema(ResponseSchema):
    """The legacy dashboard answer: the open interviews and the counts."""

    interviews = fields.List(fields.Nested(LegacyInterviewSchema))
    stats = fields.Nested(InterviewCountsSchema)


class ConfirmationSchema(ResponseSchema):
    """A confirmation."""

    message = fields.String()


# --- performances: input ------------------------------------------------------------------


class FeedbackSchema(ma.Schema):
    """Written feedback."""

    overall = fields.String(allow_none=True, validate=validate.Length(max=20_000))
    strengths = fields.List(THEME, validate=validate.Length(max=50))
    improvements = fields.List(THEME, validate=validate.Length(max=50))
    recommendations = fields.List(THEME, validate=validate.Length(max=50))


class RoundResultSchema(ma.Schema):
    """One round's result; questionsAnswered ≤ totalQuestions."""

    round_type = fields.String(
        data_key="roundType", required=True, validate=[validate.Length(min=1, max=50), _not_blank]
    )
    score = fields.Float(allow_none=True, validate=validate.Range(min=0, max=100))
    questions_answered = question_count("questionsAnswered")
    total_questions = question_count("totalQuestions")
    time_spent = minutes_spent()

    @validates_schema
    def answered_within_total(self, data, **kwargs):
        """A round cannot answer more questions than it asked."""
        answered, total = data.get("questions_answered"), data.get("total_questions")
        if answered is not None and total is not None and answered > total:
            raise ma.ValidationError("Must not exceed totalQuestions", "questionsAnswered")


class PerformanceBodySchema(ma.Schema):
    """A scored result. Job fields the SPA may echo are accepted and ignored: the interview's
    own are copied, never the body's."""

    interview_id = fields.String(data_key="interviewId", validate=OBJECT_ID)
    score = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    total_questions = question_count("totalQuestions")
    correct_answers = question_count("correctAnswers")
    time_spent = minutes_spent()
    feedback = fields.Nested(FeedbackSchema, allow_none=True)
    round_results = fields.List(
        fields.Nested(RoundResultSchema),
        data_key="roundResults",
        allow_none=True,
        validate=validate.Length(max=50),
    )
    # What the SPA may echo back; accepted so old clients keep working, then dropped.
    echoed_job_title = fields.Raw(data_key="jobTitle", load_only=True)
    echoed_company_name = fields.Raw(data_key="companyName", load_only=True)
    echoed_interview_type = fields.Raw(data_key="interviewType", load_only=True)
    echoed_experience_level = fields.Raw(data_key="experienceLevel", load_only=True)
    echoed_user_id = fields.Raw(data_key="userId", load_only=True)
    echoed_completed_at = fields.Raw(data_key="completedAt", load_only=True)

    @validates_schema
    def correct_within_total(self, data, **kwargs):
        """No more correct answers than questions."""
        correct, total = data.get("correct_answers"), data.get("total_questions")
        if correct is not None and total is not None and correct > total:
            raise ma.ValidationError("Must not exceed totalQuestions", "correctAnswers")

    @ma.post_load
    def drop_echoed(self, data, **kwargs):
        """Keep only what the service stores."""
        return {key: value for key, value in data.items() if not key.startswith("echoed_")}


class PerformanceSaveSchema(PerformanceBodySchema):
    """`POST /api/save-performance`: the interview id is in the body."""

    interview_id = fields.String(data_key="interviewId", required=True, validate=OBJECT_ID)


class PerformanceFilterArgsSchema(ma.Schema):
    """Filters shared by the list, the stats and the export."""

    interview_type = fields.String(
        data_key="interviewType", validate=validate.OneOf(INTERVIEW_TYPES)
    )
    company_name = fields.String(data_key="companyName", validate=NAME)
    experience_level = fields.String(
        data_key="experienceLevel", validate=validate.OneOf(EXPERIENCE_LEVELS)
    )
    completed_from = UTCDateTime(data_key="from")
    completed_to = UTCDateTime(data_key="to")
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Words that must all appear in job title, company or feedback"},
    )

    @validates_schema
    def coherent(self, data, **kwargs):
        """`from` not after `to`; `q` has between 1 and 10 words."""
        start, end = data.get("completed_from"), data.get("completed_to")
        if start and end and start > end:
            raise ma.ValidationError("Must not be after `to`", "from")
        if "q" in data and not 1 <= len(search_tokens(data["q"])) <= MAX_QUERY_WORDS:
            raise ma.ValidationError(f"Must contain 1 to {MAX_QUERY_WORDS} words", "q")


class PerformanceListArgsSchema(PerformanceFilterArgsSchema, PageArgsSchema):
    """Filters, `sort` and cursor paging of the performance list."""

    sort = fields.String(load_default="-completedAt", validate=validate.OneOf(SORTS))
    cursor = Cursor(datetime, int, float)

    @validates_schema
    def cursor_of_this_sort(self, data, **kwargs):
        """A cursor made for another sort names a key that would not compare."""
        by_date = data.get("sort", "").lstrip("-") == "completedAt"
        if "cursor" in data and isinstance(data["cursor"][0], datetime) != by_date:
            raise ma.ValidationError("Invalid cursor for this sort", "cursor")


class PerformanceExportArgsSchema(PerformanceFilterArgsSchema):
    """Filters and `sort` of the CSV export."""

    sort = fields.String(load_default="-completedAt", validate=validate.OneOf(SORTS))


class PerformanceStatsArgsSchema(PerformanceFilterArgsSchema):
    """Filters and the size of the `performances` list (and trend window) of the stats."""

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


# --- performances: output -----------------------------------------------------------------


class RoundResultOutSchema(ma.Schema):
    """One round's result."""

    round_type = fields.String(data_key="roundType")
    score = fields.Float(allow_none=True)
    questions_answered = fields.Integer(data_key="questionsAnswered", allow_none=True)
    total_questions = fields.Integer(data_key="totalQuestions", allow_none=True)
    time_spent = fields.Float(data_key="timeSpent", allow_none=True)


class PerformanceSchema(ma.Schema):
    """A performance, in full (the detailed view)."""

    id = fields.String()
    interview_id = fields.String(data_key="interviewId")
    job_title = fields.String(data_key="jobTitle", allow_none=True)
    company_name = fields.String(data_key="companyName", allow_none=True)
    interview_type = fields.String(data_key="interviewType", allow_none=True)
    experience_level = fields.String(data_key="experienceLevel", allow_none=True)
    completed_at = UTCDateTime(data_key="completedAt")
    total_questions = fields.Integer(data_key="totalQuestions", allow_none=True)
    correct_answers = fields.Integer(data_key="correctAnswers", allow_none=True)
    score = fields.Float()
    time_spent = fields.Float(data_key="timeSpent", allow_none=True)
    feedback = fields.Nested(FeedbackSchema, allow_none=True)
    round_results = fields.List(
        fields.Nested(RoundResultOutSchema), data_key="roundResults", allow_none=True
    )


class NestedOrEmpty(fields.Nested):
    """A nested object answered with its defaults when it is unset or null."""

    def __init__(self, nested, **kwargs):
        super().__init__(nested, dump_default=dict, **kwargs)

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        return super()._serialize({} if nested_obj is None else nested_obj, attr, obj, **kwargs)


class LegacyFeedbackSchema(ma.Schema):
    """Written feedback as the legacy pages map it: lists are `[]`, `overall` null when not sent."""

    overall = fields.String(allow_none=True, dump_default=None)
    strengths = ListOrEmpty(fields.String())
    improvements = ListOrEmpty(fields.String())
    recommendations = ListOrEmpty(fields.String())


class LegacyPerformanceSchema(PerformanceSchema, LegacyIdSchema):
    """A performance on the legacy paths: `_id` beside `id`, and no null where the pages
    iterate (unmeasured numbers stay null)."""

    feedback = NestedOrEmpty(LegacyFeedbackSchema)
    round_results = ListOrEmpty(fields.Nested(RoundResultOutSchema), data_key="roundResults")


class PerformanceSavedSchema(ResponseSchema):
    """The answer to a save: the same performance id however often the save is repeated."""

    performance_id = fields.String(data_key="performanceId")
    interview_updated = fields.Boolean(
        data_key="interviewUpdated",
        metadata={"description": "The interview is completed and points at this performance"},
    )
    message = fields.String()
    performance = fields.Nested(PerformanceSchema)


class LegacyPerformanceSavedSchema(PerformanceSavedSchema):
    """The answer to a legacy save."""

    performance = fields.Nested(LegacyPerformanceSchema)


class PerformanceResponseSchema(ResponseSchema):
    """One performance."""

    performance = fields.Nested(PerformanceSchema)


PerformancePageSchema = page_schema(PerformanceSchema)


# --- analytics ----------------------------------------------------------------------------


class LegacyStatsSchema(ma.Schema):
    """The keys the existing analytics page reads; its two averages are whole numbers, rounded
    half up like JavaScript's Math.round (the precise ones are in `summary` and `trend`)."""

    total_interviews = fields.Integer(data_key="totalInterviews")
    average_score = fields.Integer(data_key="averageScore")
    total_time_spent = fields.Float(data_key="totalTimeSpent")
    improvement_trend = fields.Integer(
        data_key="improvementTrend",
        metadata={"description": "Average of the last 3 scores minus the 3 before; 0 below 6"},
    )
    strongest_area = fields.String(data_key="strongestArea", allow_none=True)
    weakest_area = fields.String(data_key="weakestArea", allow_none=True)
    recent_performance = fields.List(fields.Float(), data_key="recentPerformance")


class SummarySchema(ma.Schema):
    """Totals over the filtered history."""

    completed_interviews = fields.Integer(data_key="completedInterviews")
    active_interviews = fields.Integer(data_key="activeInterviews")
    average_score = fields.Float(data_key="averageScore", allow_none=True)
    best_score = fields.Float(data_key="bestScore", allow_none=True)
    latest_score = fields.Float(data_key="latestScore", allow_none=True)
    total_time_spent = fields.Float(data_key="totalTimeSpent")
    average_time_spent = fields.Float(data_key="averageTimeSpent", allow_none=True)
    accuracy = fields.Float(allow_none=True, metadata={"description": "correct / total, 0–1"})


class TrendPointSchema(ma.Schema):
    """One completed interview on the score-over-time chart."""

    completed_at = UTCDateTime(data_key="completedAt")
    score = fields.Float()
    interview_type = fields.String(data_key="interviewType", allow_none=True)
    company_name = fields.String(data_key="companyName", allow_none=True)


class TrendSchema(ma.Schema):
    """Score over time (the newest `limit` interviews, oldest first)."""

    points = fields.List(fields.Nested(TrendPointSchema))
    moving_average = fields.List(fields.Float(), data_key="movingAverage")
    moving_average_window = fields.Integer(data_key="movingAverageWindow")
    slope = fields.Float(metadata={"description": "Least-squares score points per interview"})
    direction = fields.String(metadata={"description": "improving | declining | steady"})
    window = fields.Integer(metadata={"description": "Size of the recent/previous windows"})
    recent_average = fields.Float(data_key="recentAverage", allow_none=True)
    previous_average = fields.Float(data_key="previousAverage", allow_none=True)
    change = fields.Float(allow_none=True)


class ThemeCountSchema(ma.Schema):
    """A normalised feedback phrase and how many performances mention it."""

    text = fields.String()
    count = fields.Integer()


class GroupSchema(ma.Schema):
    """Figures of one interview type, company or experience level."""

    key = fields.String(allow_none=True)
    count = fields.Integer()
    average_score = fields.Float(data_key="averageScore")
    best_score = fields.Float(data_key="bestScore")
    latest_score = fields.Float(data_key="latestScore")
    average_time_spent = fields.Float(data_key="averageTimeSpent", allow_none=True)


class CompanyGroupSchema(GroupSchema):
    """A company's figures and its most frequent improvements."""

    top_improvements = fields.List(fields.Nested(ThemeCountSchema), data_key="topImprovements")


class RoundStatsSchema(ma.Schema):
    """Figures of one round type."""

    round_type = fields.String(data_key="roundType")
    count = fields.Integer()
    average_score = fields.Float(data_key="averageScore", allow_none=True)
    questions_answered = fields.Integer(data_key="questionsAnswered")
    total_questions = fields.Integer(data_key="totalQuestions")
    answered_ratio = fields.Float(data_key="answeredRatio", allow_none=True)
    average_time_spent = fields.Float(data_key="averageTimeSpent", allow_none=True)


class TypeTimeSchema(ma.Schema):
    """Minutes per question of one interview type."""

    interview_type = fields.String(data_key="interviewType")
    minutes_per_question = fields.Float(data_key="minutesPerQuestion", allow_none=True)


class TimeManagementSchema(ma.Schema):
    """Minutes per question, over performances that have both a time and a question count."""

    minutes_per_question = fields.Float(data_key="minutesPerQuestion", allow_none=True)
    by_type = fields.List(fields.Nested(TypeTimeSchema), data_key="byType")


class FeedbackThemesSchema(ma.Schema):
    """The most frequent strengths and improvements."""

    strengths = fields.List(fields.Nested(ThemeCountSchema))
    improvements = fields.List(fields.Nested(ThemeCountSchema))


class PerformanceStatsSchema(ResponseSchema):
    """Analytics of the caller's completed interviews matching the filters."""

    stats = fields.Nested(LegacyStatsSchema)
    performances = fields.List(fields.Nested(LegacyPerformanceSchema))
    summary = fields.Nested(SummarySchema)
    trend = fields.Nested(TrendSchema)
    by_type = fields.List(fields.Nested(GroupSchema), data_key="byType")
    by_company = fields.List(fields.Nested(CompanyGroupSchema), data_key="byCompany")
    by_experience_level = fields.List(fields.Nested(GroupSchema), data_key="byExperienceLevel")
    rounds = fields.List(fields.Nested(RoundStatsSchema))
    time_management = fields.Nested(TimeManagementSchema, data_key="timeManagement")
    feedback_themes = fields.Nested(FeedbackThemesSchema, data_key="feedbackThemes")
    recent = fields.List(fields.Nested(LegacyPerformanceSchema))


# The account export's parts from this module: name → schema of each item.
EXPORT_SCHEMAS = {"interviews": InterviewSchema, "performances": PerformanceSchema}
