"""Documents of the performance blueprint: interviews on the dashboard and their scored results."""

import re
from datetime import UTC, datetime, timedelta
from functools import partial

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    EmbeddedDocumentListField,
    FloatField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from interview_service import db
from interview_service.querysets import OwnedQuerySet
from interview_service.times import now, truncate_ms
from interview_service.vocabulary import INTERVIEW_TYPES

EXPERIENCE_LEVELS = ("entry", "mid", "senior")
READY, IN_PROGRESS, COMPLETED = "ready", "in-progress", "completed"
INTERVIEW_STATUSES = (READY, IN_PROGRESS, COMPLETED)

ONE_MS = timedelta(milliseconds=1)
LAST_MOMENT = truncate_ms(datetime.max.replace(tzinfo=UTC))
_WORD = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")


def search_tokens(*texts):
    """Lowercase word tokens of `texts`, deduplicated in first-seen order (the `q` index)."""
    tokens = {}
    for text in texts:
        for token in _WORD.findall((text or "").casefold()):
            tokens.setdefault(token, None)
    return list(tokens)


def normalise_theme(text):
    """Feedback text as a theme key: case-folded, whitespace collapsed and trimmed."""
    return _SPACES.sub(" ", (text or "").casefold()).strip()


class InterviewQuerySet(OwnedQuerySet):
    """Queries on interviews."""

    NOT_FOUND = "Interview not found"

    def active(self):
        """Interviews not completed and without a performance (the dashboard's open ones)."""
        return self.filter(status__ne=COMPLETED, performance_id=None)

    def with_saved_linked(self, newest=None):
        """These interviews once the open ones whose performance was saved but never linked to
        them (a save that died between its two writes) are linked; the `newest` open ones only
        when given (what the lists and counts show first). Every read path starts with it."""
        open_interviews = self.active()
        if newest:
            open_interviews = open_interviews.order_by("-created_at", "-id").limit(newest)
        link_saved(open_interviews.scalar("id"))
        return self

    def with_status(self, status):
        """Interviews in `status`, or all when `status` is None."""
        return self.filter(status=status) if status else self


class Interview(Document):
    """An interview on the candidate's dashboard: ready → in-progress → completed."""

    user_id = StringField(db_field="userId", required=True)
    job_title = StringField(db_field="jobTitle", required=True)
    company_name = StringField(db_field="companyName", required=True)
    interview_type = StringField(db_field="interviewType", choices=INTERVIEW_TYPES, required=True)
    experience_level = StringField(
        db_field="experienceLevel", choices=EXPERIENCE_LEVELS, required=True
    )
    status = StringField(choices=INTERVIEW_STATUSES, default=READY, required=True)
    created_at = DateTimeField(db_field="createdAt", default=now, required=True)
    completed_at = DateTimeField(db_field="completedAt")
    performance_id = ObjectIdField(db_field="performanceId")

    meta = {
        "collection": "interviews",
        "queryset_class": InterviewQuerySet,
        "indexes": [
            # Lists are per user, newest first, optionally by status; _id breaks ties for cursors.
            {"fields": ["user_id", "-created_at", "-id"]},
            {"fields": ["user_id", "status", "-created_at", "-id"]},
        ],
    }


class Feedback(EmbeddedDocument):
    """The written feedback of a performance."""

    overall = StringField()
    strengths = ListField(StringField())
    improvements = ListField(StringField())
    recommendations = ListField(StringField())


class RoundResult(EmbeddedDocument):
    """The result of one round of an interview."""

    round_type = StringField(db_field="roundType", required=True)
    score = FloatField(min_value=0, max_value=100)
    questions_answered = IntField(db_field="questionsAnswered", min_value=0)
    total_questions = IntField(db_field="totalQuestions", min_value=0)
    time_spent = FloatField(db_field="timeSpent", min_value=0)


class Themes(EmbeddedDocument):
    """Normalised strengths and improvements, kept so analytics group them in the database."""

    strengths = ListField(StringField())
    improvements = ListField(StringField())


def link_saved(interview_ids):
    """Link the performances saved for `interview_ids` (on the unique index); return how many."""
    interview_ids = list(interview_ids)
    if not interview_ids:
        return 0
    return sum(
        performance.link_interview()
        for performance in Performance.objects(interview_id__in=interview_ids)
    )


class PerformanceQuerySet(OwnedQuerySet):
    """Queries on performances."""

    NOT_FOUND = "Performance not found"

    def matching(
        self,
        interview_type=None,
        company_name=None,
        experience_level=None,
        completed_from=None,
        completed_to=None,
        q=None,
    ):
        """Apply the list/stats/export filters; each one is skipped when not given."""
        queryset = self
        if interview_type:
            queryset = queryset.filter(interview_type=interview_type)
        if company_name:
            queryset = queryset.filter(company_name=company_name)
        if experience_level:
            queryset = queryset.filter(experience_level=experience_level)
        if completed_from:
            queryset = queryset.filter(completed_at__gte=completed_from)
        if completed_to and completed_to < LAST_MOMENT:
            # `< to + 1 ms` is `<= to` at BSON's millisecond precision; SecantusDB misses the
            # boundary of a `$lte` on a compound index with a field after the date. Every
            # time is before or at LAST_MOMENT, so that bound filters nothing.
            queryset = queryset.filter(completed_at__lt=truncate_ms(completed_to) + ONE_MS)
        if q:
            queryset = queryset.search(q)
        return queryset

    def search(self, q):
        """Performances whose job title, company and feedback contain every word of `q`."""
        return self.filter(search_terms__all=search_tokens(q))

    def unlinked(self):
        """Performances whose interview was not yet linked to them (a save in flight, or one
        that died between its two writes)."""
        return self.filter(linked=False)


class Performance(Document):
    """The scored result of one completed interview (at most one per interview)."""

    user_id = StringField(db_field="userId", required=True)
    interview_id = ObjectIdField(db_field="interviewId", required=True)
    job_title = StringField(db_field="jobTitle")
    company_name = StringField(db_field="companyName")
    interview_type = StringField(db_field="interviewType")
    experience_level = StringField(db_field="experienceLevel")
    completed_at = DateTimeField(db_field="completedAt", default=now, required=True)
    total_questions = IntField(db_field="totalQuestions", min_value=0)
    correct_answers = IntField(db_field="correctAnswers", min_value=0)
    score = FloatField(required=True, min_value=0, max_value=100)
    time_spent = FloatField(db_field="timeSpent", min_value=0)
    feedback = EmbeddedDocumentField(Feedback)
    round_results = EmbeddedDocumentListField(RoundResult, db_field="roundResults", default=None)
    # Derived at save time: `searchTerms` backs `q` (SecantusDB and mongomock have no $text),
    # `themes` lets the stats aggregation group feedback without string surgery per tier.
    search_terms = ListField(StringField(), db_field="searchTerms")
    themes = EmbeddedDocumentField(Themes)
    # False from the insert until its interview points at it, so a save that died between the
    # two is found by one indexed lookup (`unlinked`) rather than by reading every open
    # interview. Results stored before this field have none: `flask repair` covers them.
    linked = BooleanField(default=False)

    meta = {
        "collection": "performances",
        "queryset_class": PerformanceQuerySet,
        "indexes": [
            # One performance per interview: concurrent saves race on this index, one wins.
            {"fields": ["interview_id"], "unique": True},
            # Stats, lists and export match on the user and read in completion order.
            {"fields": ["user_id", "completed_at", "id"]},
            {"fields": ["user_id", "score", "id"]},
            {"fields": ["user_id", "interview_type", "completed_at"]},
            {"fields": ["user_id", "company_name", "completed_at"]},
            # Multikey index for `q` (token equality with $all, never a regex).
            {"fields": ["user_id", "search_terms"]},
            {"fields": ["user_id", "linked"]},
        ],
    }

    def link_interview(self):
        """Mark its interview completed and pointing at it, then itself linked; True when the
        interview exists."""
        # Both writes name their document by _id alone (see OwnedQuerySet.get_owned; the
        # interview is the user's, read so when this performance was built from it) and set
        # the same values again when repeated: multi-document updates, which are not
        # retryable writes, retried here (see db.retried_once).
        interview = Interview.objects(id=self.interview_id)
        linked = db.retried_once(
            partial(
                interview.update,
                set__status=COMPLETED,
                set__completed_at=self.completed_at,
                set__performance_id=self.id,
            )
        )
        if linked and not self.linked:
            db.retried_once(partial(Performance.objects(id=self.id).update, set__linked=True))
            self.linked = True
        # Every save ends here: the new performance (and one active interview fewer) shows.
        StatsCacheEntry.invalidate(self.user_id)
        return bool(linked)

    def derive(self):
        """Fill the derived fields (`searchTerms`, `themes`) from the stored content."""
        feedback = self.feedback or Feedback()
        self.search_terms = search_tokens(
            self.job_title,
            self.company_name,
            feedback.overall,
            *(feedback.strengths or []),
            *(feedback.improvements or []),
            *(feedback.recommendations or []),
        )
        self.themes = Themes(
            strengths=_unique(normalise_theme(item) for item in feedback.strengths or []),
            improvements=_unique(normalise_theme(item) for item in feedback.improvements or []),
        )
        return self


class StatsCacheEntry(Document):
    """A user's stats answer for one set of filters, or (key "") the user's generation.

    Valid while its generation equals the user's (every write bumps it) and before
    `expireAt` (which also bounds what a crash between a write and its bump could leave).
    """

    id = StringField(primary_key=True)
    user_id = StringField(db_field="userId", required=True)
    generation = IntField(default=0)
    answer = DictField()
    expire_at = DateTimeField(db_field="expireAt")

    @staticmethod
    def generation_id(user_id):
        """The id of the entry holding `user_id`'s generation."""
        return f"generation:{user_id}"

    @classmethod
    def invalidate(cls, user_id):
        """Make every cached stats answer of `user_id` stale (after each write that changes
        them): its generation moves on."""
        # A repeated bump only invalidates again: a multi-document update of the one entry,
        # not a retryable write, retried here (see db.retried_once).
        bump = partial(
            cls._get_collection().update_many,
            {"_id": cls.generation_id(user_id)},
            {"$inc": {"generation": 1}, "$set": {"userId": user_id}},
            upsert=True,
        )
        db.retried_once(bump)

    meta = {
        "collection": "stats_cache",
        "indexes": [
            {"fields": ["user_id"]},
            {"fields": ["expire_at"], "expireAfterSeconds": 0},
        ],
    }


def _unique(items):
    """Non-empty items, deduplicated in order (a theme counts once per performance)."""
    return list(dict.fromkeys(item for item in items if item))


DOCUMENTS = [Interview, Performance, StatsCacheEntry]
