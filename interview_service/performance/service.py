"""Rules of the performance blueprint: the interview lifecycle and saving scored results."""

from dataclasses import dataclass
from functools import partial

from mongoengine.errors import NotUniqueError

from interview_service import db
from interview_service.errors import Conflict, Invalid, NotFound
from interview_service.pagination import paginate
from interview_service.performance import export, stats
from interview_service.performance.models import (
    COMPLETED,
    IN_PROGRESS,
    READY,
    Feedback,
    Interview,
    Performance,
    RoundResult,
    link_saved,
)
from interview_service.querysets import in_batches
from interview_service.times import now

SORT_KEYS = {"completedAt": "completed_at", "score": "score"}
# Stored for queries only: answers never show them, so reads leave them out.
DERIVED = ("search_terms", "themes")
SAVED = "Performance saved"
ALREADY_SAVED = (
    "Performance already saved for this interview; the first result is kept and this request "
    "stored nothing"
)
# Reads check this many of the newest open interviews for a save that died before linking
# (one indexed query each way); writes link the user's unlinked performances (one indexed
# lookup, however many interviews are open) and `flask repair` checks everything.
RECENT_OPEN = 50
# The repair command links and sweeps in batches of this many ids.
REPAIR_BATCH = 500


# --- interviews ---------------------------------------------------------------------------


def create_interview(user_id, data, created_at=None):
    """Create a ready interview for `user_id` (`created_at`, default now, for operator tools)."""
    interview = Interview(user_id=user_id, created_at=created_at or now(), **data)
    interview.save(force_insert=True)
    stats.invalidate(user_id)  # one more active interview
    return interview


def get_interview(user_id, interview_id):
    """The caller's interview (repaired if its performance was saved but not linked)."""
    interview = Interview.objects.get_owned(user_id, interview_id)
    if interview.status != COMPLETED or interview.performance_id is None:
        performance = Performance.objects(interview_id=interview.id).first()
        if performance is not None:
            performance.link_interview()
            interview.reload()
    return interview


def list_interviews(user_id, status=None, limit=20, cursor=None):
    """A page of the caller's interviews, newest first, optionally in one status."""
    queryset = Interview.objects.owned_by(user_id).with_saved_linked(RECENT_OPEN)
    queryset = queryset.with_status(status)
    return paginate(queryset, limit, cursor, read=partial(db.read_raw, Interview))


def dashboard(user_id, limit=20):
    """The legacy dashboard: open interviews (newest first) and counts by status."""
    mine = Interview.objects.owned_by(user_id).with_saved_linked(RECENT_OPEN)
    interviews = list(mine.active().order_by("-created_at", "-id").limit(limit))
    total, completed = mine.count(), mine.filter(status=COMPLETED).count()
    # As the original counted: every interview not completed (ready or in-progress).
    counts = {"total": total, "completed": completed, "in_progress": total - completed}
    return interviews, counts


def start_interview(user_id, interview_id, status):
    """Move a ready interview to in-progress; any other change conflicts with its state."""
    interview = get_interview(user_id, interview_id)
    if status != IN_PROGRESS or interview.status != READY:
        raise Conflict(f"Cannot change an interview from {interview.status} to {status}")
    # Conditional on the status still being ready, so two racing starts cannot both win.
    started = Interview.objects(id=interview.id, user_id=user_id, status=READY).update_one(
        set__status=IN_PROGRESS
    )
    if not started:
        interview.reload()
        raise Conflict(f"Cannot change an interview from {interview.status} to {status}")
    interview.reload()
    return interview


def interview_id_of(body_id=None, url_id=None):
    """The interview id given in the JSON body and/or the URL; both must agree (hex digits in
    either case: the path's id arrives as an ObjectId, which prints lowercase)."""
    if body_id and url_id and str(body_id).lower() != str(url_id).lower():
        raise Invalid("interviewId of the body differs from the URL's", field="interviewId")
    interview_id = body_id or url_id
    if not interview_id:
        raise Invalid("interviewId is required", field="interviewId")
    return interview_id


def delete_interview(user_id, interview_id):
    """Delete the caller's interview and its performance."""
    interview = Interview.objects.get_owned(user_id, interview_id)
    performance = Performance.objects.owned_by(user_id).filter(interview_id=interview.id)
    # The performance goes first, so a crash in between leaves an interview to delete again;
    # and again after the interview, for a save that inserted in between (a save that inserts
    # later finds no interview to link and removes its own insert).
    performance.delete()
    Interview.objects(id=interview.id).delete()
    performance.delete()
    link_unlinked(user_id)
    stats.invalidate(user_id)


def repair_all():
    """Link every saved-but-unlinked performance and remove performances whose interview is
    gone (a save or delete that died between its writes); return the counts."""
    linked = sum(map(link_saved, in_batches(Interview.objects.active().scalar("id"), REPAIR_BATCH)))
    # And those whose interview was linked but which were not marked so (died in between).
    linked += sum(performance.link_interview() for performance in Performance.objects.unlinked())
    orphans = 0
    for batch in in_batches(Performance.objects.scalar("interview_id"), REPAIR_BATCH):
        existing = set(Interview.objects(id__in=batch).scalar("id"))
        orphans += Performance.objects(
            interview_id__in=[i for i in batch if i not in existing]
        ).delete()
    return {"linked": linked, "orphans_removed": orphans}


# --- performances -------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveResult:
    """A saved (or already saved) performance and what the save did."""

    performance: Performance
    created: bool
    interview_updated: bool

    @property
    def message(self):
        """What the caller is told: a repeated save keeps the first result."""
        return SAVED if self.created else ALREADY_SAVED


def save_performance(user_id, interview_id, data, completed_at=None):
    """Save the result of the caller's interview once; repeats return the first one.

    `completed_at` (default now) lets operator tools such as seed-demo record past results.
    """
    interview = Interview.objects.get_owned(user_id, interview_id)
    performance = _new_performance(interview, data, completed_at or now())
    try:
        performance.save(force_insert=True)
        created = True
    except NotUniqueError:
        # Someone saved first (a retry, or a concurrent request): the unique index on
        # interviewId decided; answer with the winner.
        performance = Performance.objects(interview_id=interview.id).first()
        created = False
    # Idempotent: every racer sets the same values, and a crash before this line is
    # repaired by the next save or read.
    if performance is None or not performance.link_interview():
        # The interview was deleted since it was read: the delete may have swept before this
        # insert, so remove it here; whatever the order, both go or neither does.
        if created:
            performance.delete()
        raise NotFound("Interview not found")
    link_unlinked(user_id)
    return SaveResult(performance, created, True)


def link_unlinked(user_id):
    """Link the user's performances whose save died before linking their interview (and
    those of saves still in flight: the same values either way)."""
    for performance in Performance.objects.owned_by(user_id).unlinked():
        performance.link_interview()


def _new_performance(interview, data, completed_at):
    """An unsaved performance of `interview`: job fields from the interview, the rest sent."""
    feedback = data.get("feedback")
    rounds = data.get("round_results")
    return Performance(
        user_id=interview.user_id,
        interview_id=interview.id,
        job_title=interview.job_title,
        company_name=interview.company_name,
        interview_type=interview.interview_type,
        experience_level=interview.experience_level,
        completed_at=completed_at,
        score=data["score"],
        total_questions=data.get("total_questions"),
        correct_answers=data.get("correct_answers"),
        time_spent=data.get("time_spent"),
        feedback=Feedback(**feedback) if feedback is not None else None,
        round_results=[RoundResult(**item) for item in rounds] if rounds is not None else None,
    ).derive()


def get_performance(user_id, performance_id):
    """The caller's performance."""
    return Performance.objects.get_owned(user_id, performance_id)


def filtered(user_id, filters):
    """The caller's performances matching the list/stats/export filters."""
    return Performance.objects.owned_by(user_id).matching(**filters)


def list_performances(user_id, filters, sort="-completedAt", limit=20, cursor=None):
    """A page of the caller's performances, filtered and sorted."""
    key = SORT_KEYS[sort.lstrip("-")]
    return paginate(
        filtered(user_id, filters).exclude(*DERIVED),
        limit,
        cursor,
        key,
        descending=sort.startswith("-"),
        read=partial(db.read_raw, Performance),
    )


def performance_stats(user_id, filters, limit=100, present=None):
    """The analytics of the caller's completed interviews matching the filters, as `present`
    shapes them (e.g. the response schema's dump), cached so until the caller's next write."""
    present = present or (lambda answer: answer)
    link_unlinked(user_id)  # a save that died before linking makes the cached answer stale
    key = {**filters, "limit": limit}
    return stats.cached(user_id, key, lambda: present(compute_stats(user_id, filters, limit)))


def compute_stats(user_id, filters, limit=100):
    """The analytics straight from the `$facet` aggregation (the source of truth), once the
    newest open interviews whose save died before linking are linked."""
    mine = Interview.objects.owned_by(user_id).with_saved_linked(RECENT_OPEN)
    active = mine.active().count()
    return stats.compute(filtered(user_id, filters), active_interviews=active, limit=limit)


def export_csv(user_id, filters, sort="-completedAt"):
    """CSV text chunks of the caller's performances (started now, so errors surface here)."""
    direction = "-" if sort.startswith("-") else ""
    key = SORT_KEYS[sort.lstrip("-")]
    queryset = filtered(user_id, filters).order_by(f"{direction}{key}", f"{direction}id")
    return export.csv_chunks(queryset)


# --- whole accounts -----------------------------------------------------------------------


def export_user(user_id):
    """Lazy cursors on everything the user owns: interviews by creation, performances by
    completion, oldest first (memory stays flat for any history)."""
    interviews = Interview.objects.owned_by(user_id).with_saved_linked()
    interviews = interviews.order_by("created_at", "id")
    performances = Performance.objects.owned_by(user_id).order_by("completed_at", "id")
    return {"interviews": interviews.no_cache(), "performances": performances.no_cache()}


def delete_user(user_id):
    """Delete every interview and performance of the user; return the counts."""
    # Performances first, as in delete_interview: a crash leaves interviews to delete again,
    # never results without their interview in the lists and stats.
    performances = Performance.objects.owned_by(user_id).delete()
    interviews = Interview.objects.owned_by(user_id).delete()
    # A save racing the deletion may have inserted after the first sweep.
    performances += Performance.objects.owned_by(user_id).delete()
    stats.forget(user_id)
    return {"interviews": interviews, "performances": performances}
