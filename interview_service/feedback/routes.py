"""HTTP routes of feedback generation: parse → service → dump."""

import click
from flask import current_app, url_for
from flask.views import MethodView

from interview_service import ratelimit
from interview_service.auth import current_user
from interview_service.extensions import Blueprint
from interview_service.feedback import provider, service, worker
from interview_service.feedback.schemas import GenerateHeadersSchema
from interview_service.openapi import header
from interview_service.sessions import service as sessions_service
from interview_service.sessions.models import PENDING
from interview_service.sessions.schemas import IdempotencyHeaderSchema, ReportResponseSchema

blp = Blueprint(
    "feedback",
    __name__,
    url_prefix="/api",
    anonymous_when="ALLOW_ANONYMOUS_SESSIONS",
    description="Feedback reports generated on the server from a session's transcript",
    cli_group=None,  # `flask --app wsgi feedback-worker`, not `flask feedback …`
)

ERRORS = {
    404: "Not the caller's session",
    409: "Session in progress, or a generation already running (Retry-After)",
    422: "The transcript is empty",
    429: "Too many generations (FEEDBACK_RATE_LIMIT; Retry-After)",
    502: "The model's answer stayed invalid",
    503: "No provider configured, or it is unreachable or rate-limiting (Retry-After)",
}


@blp.record_once
def bind(state):
    """Wire the module into the app: the sessions' interviewId check, the per-user limit."""
    app = state.app
    provider.check_settings(app.config)
    app.extensions[sessions_service.INTERVIEW_CHECK] = service.interview_is_users
    ratelimit.limit_blueprint(app, blp, "FEEDBACK_RATE_LIMIT")


def report_location(report):
    """Where the report is read (and a pending one polled)."""
    return url_for("sessions.ReportItem", session_id=report.session_id, report_id=report.id)


def document_errors(view):
    """The error answers both generate routes share."""
    for status, description in ERRORS.items():
        view = blp.alt_response(status, description=description)(view)
    return view


@blp.route("/sessions/<string:session_id>/feedback/generate")
class FeedbackGenerate(MethodView):
    """The agent SPA's generation path."""

    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(201, ReportResponseSchema)
    @document_errors
    def post(self, headers, session_id):
        """Generate the session's feedback report now (no body)."""
        report = service.generate(current_user(), session_id, headers.get("idempotency_key"))
        return {"report": report}, 201, {"Location": report_location(report)}


@blp.route("/sessions/<string:session_id>/reports/generate")
class ReportGenerate(MethodView):
    """Generation of a session's report."""

    @blp.arguments(GenerateHeadersSchema, location="headers")
    @blp.response(201, ReportResponseSchema)
    @blp.alt_response(
        202,
        schema=ReportResponseSchema,
        description="Queued (Prefer: respond-async): poll the report at Location",
        headers={"Location": header("GET /api/sessions/{sessionId}/reports/{reportId}")},
    )
    @document_errors
    def post(self, headers, session_id):
        """Generate the session's report now, or queue it with `Prefer: respond-async`."""
        report = service.generate(
            current_user(),
            session_id,
            headers.get("idempotency_key"),
            queue=headers["respond_async"],
        )
        location = {"Location": report_location(report)}
        if report.status != PENDING:
            return {"report": report}, 201, location
        return {"report": report}, 202, {**location, "Preference-Applied": "respond-async"}


@blp.cli.command("feedback-worker")
@click.option("--once", is_flag=True, help="Stop when no report waits instead of polling.")
def feedback_worker(once):
    """Generate queued feedback reports until SIGTERM (run one or more, on any host)."""
    if not provider.is_configured(current_app.config):
        click.echo("no feedback provider configured: set LLM_API_KEY or LLM_BASE_URL", err=True)
    worker.serve(once)
