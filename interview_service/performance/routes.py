"""HTTP routes of the performance blueprint: the clean resources and the SPA's legacy paths."""

from flask import Response, jsonify, stream_with_context, url_for
from flask.views import MethodView

from interview_service.auth import current_user
from interview_service.extensions import Blueprint
from interview_service.performance import service
from interview_service.performance.schemas import (
    ConfirmationSchema,
    InterviewCreateSchema,
    InterviewIdArgsSchema,
    InterviewListArgsSchema,
    InterviewPageSchema,
    InterviewResponseSchema,
    InterviewUpdateSchema,
    LegacyPerformanceSavedSchema,
    PerformanceBodySchema,
    PerformanceExportArgsSchema,
    PerformanceListArgsSchema,
    PerformancePageSchema,
    PerformanceResponseSchema,
    PerformanceSavedSchema,
    PerformanceSaveSchema,
    PerformanceStatsArgsSchema,
    PerformanceStatsSchema,
    UserInterviewsArgsSchema,
    UserInterviewsSchema,
)

blp = Blueprint(
    "performance",
    __name__,
    url_prefix="/api",
    description="Interviews on the dashboard, their scored results and the analytics",
)

DELETED = "Interview deleted"
PAGING = ("limit", "cursor", "sort")


def _delete(interview_id):
    """Delete the caller's interview and its performance; the answer of both delete routes."""
    service.delete_interview(current_user(), interview_id)
    return {"message": DELETED}


def _filters(args):
    """The filter arguments of a list/stats/export query."""
    return {key: value for key, value in args.items() if key not in PAGING}


def _saved(result):
    """The body of a save answer (its `message` tells a first save from a repeat)."""
    return {
        "performance_id": str(result.performance.id),
        "interview_updated": result.interview_updated,
        "message": result.message,
        "performance": result.performance,
    }


@blp.route("/interviews")
class Interviews(MethodView):
    """The caller's interviews."""

    @blp.arguments(InterviewListArgsSchema, location="query")
    @blp.response(200, InterviewPageSchema)
    def get(self, args):
        """List the caller's interviews, newest first."""
        return service.list_interviews(current_user(), **args)

    @blp.arguments(InterviewCreateSchema)
    @blp.response(201, InterviewResponseSchema)
    def post(self, data):
        """Create an interview (status ready)."""
        interview = service.create_interview(current_user(), data)
        location = url_for(".InterviewItem", interview_id=interview.id)
        return {"interview": interview}, 201, {"Location": location}


@blp.route("/interviews/<objectid:interview_id>")
class InterviewItem(MethodView):
    """One of the caller's interviews."""

    @blp.response(200, InterviewResponseSchema)
    def get(self, interview_id):
        """Get an interview."""
        return {"interview": service.get_interview(current_user(), interview_id)}

    @blp.arguments(InterviewUpdateSchema)
    @blp.response(200, InterviewResponseSchema)
    @blp.alt_response(409, description="Only ready → in-progress is allowed")
    def patch(self, data, interview_id):
        """Start an interview (ready → in-progress)."""
        interview = service.start_interview(current_user(), interview_id, data["status"])
        return {"interview": interview}

    @blp.response(200, ConfirmationSchema)
    def delete(self, interview_id):
        """Delete an interview and its performance."""
        return _delete(interview_id)


@blp.route("/interviews/<objectid:interview_id>/performance")
class InterviewPerformance(MethodView):
    """The scored result of one interview."""

    @blp.arguments(PerformanceBodySchema)
    @blp.response(201, PerformanceSavedSchema)
    @blp.alt_response(200, schema=PerformanceSavedSchema, description="Already saved")
    def put(self, data, interview_id):
        """Save the interview's performance once (repeats answer 200 with the first)."""
        interview_id = service.interview_id_of(data.pop("interview_id", None), interview_id)
        result = service.save_performance(current_user(), interview_id, data)
        if not result.created:
            return _saved(result), 200
        location = url_for(".PerformanceItem", performance_id=result.performance.id)
        return _saved(result), 201, {"Location": location}


@blp.route("/user-interviews")
class UserInterviews(MethodView):
    """Legacy dashboard list."""

    @blp.arguments(UserInterviewsArgsSchema, location="query")
    @blp.response(200, UserInterviewsSchema)
    def get(self, args):
        """The caller's open interviews (not completed), newest first, with counts."""
        interviews, counts = service.dashboard(current_user(), args["limit"])
        return {"interviews": interviews, "stats": counts}


@blp.route("/delete-interview")
class LegacyDeleteInterview(MethodView):
    """Legacy delete."""

    @blp.arguments(InterviewIdArgsSchema, location="query", as_kwargs=False)
    @blp.arguments(InterviewIdArgsSchema, location="json", required=False)
    @blp.response(200, ConfirmationSchema)
    def delete(self, query, body):
        """Delete an interview (id in the JSON body or ?interviewId=) and its performance."""
        interview_id = service.interview_id_of(body.get("interview_id"), query.get("interview_id"))
        return _delete(interview_id)


@blp.route("/save-performance")
class LegacySavePerformance(MethodView):
    """Legacy save."""

    @blp.arguments(PerformanceSaveSchema)
    @blp.response(200, LegacyPerformanceSavedSchema)
    def post(self, data):
        """Save an interview's performance once (200 every time, as the original; see `message`)."""
        interview_id = data.pop("interview_id")
        return _saved(service.save_performance(current_user(), interview_id, data))


@blp.route("/performances")
class Performances(MethodView):
    """The caller's performances."""

    @blp.arguments(PerformanceListArgsSchema, location="query")
    @blp.response(200, PerformancePageSchema)
    def get(self, args):
        """List performances: filters, keyword search `q`, `sort` and cursor paging."""
        return service.list_performances(
            current_user(), _filters(args), args["sort"], args["limit"], args.get("cursor")
        )


@blp.route("/performances/export.csv")
class PerformanceExport(MethodView):
    """CSV export."""

    @blp.arguments(PerformanceExportArgsSchema, location="query")
    @blp.response(200, content_type="text/csv", description="One row per performance")
    def get(self, args):
        """Download the caller's performances as CSV (same filters as the list)."""
        chunks = service.export_csv(current_user(), _filters(args), args["sort"])
        return Response(
            stream_with_context(chunks),
            mimetype="text/csv",
            headers={
                "Content-Disposition": 'attachment; filename="performances.csv"',
                # nginx would otherwise buffer the whole file before sending it on.
                "X-Accel-Buffering": "no",
            },
        )


@blp.route("/performances/<objectid:performance_id>")
class PerformanceItem(MethodView):
    """One performance."""

    @blp.response(200, PerformanceResponseSchema)
    def get(self, performance_id):
        """Get a performance in full."""
        return {"performance": service.get_performance(current_user(), performance_id)}


@blp.route("/performance-stats")
class PerformanceStats(MethodView):
    """Analytics."""

    @blp.arguments(PerformanceStatsArgsSchema, location="query")
    @blp.response(200, PerformanceStatsSchema)
    def get(self, args):
        """Analytics of the caller's completed interviews matching the filters."""
        answer = service.performance_stats(
            current_user(), _filters(args), args["limit"], present=PerformanceStatsSchema().dump
        )
        # Cached as dumped: answered as it is, not passed through the schema a second time.
        return jsonify(answer)
