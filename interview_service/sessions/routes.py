"""HTTP routes of the sessions blueprint: parse → service → dump."""

from flask import url_for
from flask.views import MethodView

from interview_service.auth import current_user
from interview_service.extensions import Blueprint
from interview_service.sessions import service
from interview_service.sessions.schemas import (
    ConversationAppendedSchema,
    ConversationAppendSchema,
    IdempotencyHeaderSchema,
    MessagePageArgsSchema,
    MessagePageSchema,
    ReportArgsSchema,
    ReportCreateSchema,
    ReportListSchema,
    ReportResponseSchema,
    SessionCreatedSchema,
    SessionCreateSchema,
    SessionDetailSchema,
    SessionEndSchema,
    SessionListArgsSchema,
    SessionPageSchema,
    SessionResponseSchema,
)

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/api",
    anonymous_when="ALLOW_ANONYMOUS_SESSIONS",
    description="Interview sessions run by the agent: configuration, transcript, reports",
)


@blp.route("/sessions")
class Sessions(MethodView):
    """The caller's sessions."""

    @blp.arguments(SessionListArgsSchema, location="query")
    @blp.response(200, SessionPageSchema)
    @blp.token_required
    def get(self, args):
        """List the caller's sessions, newest first."""
        return service.list_sessions(
            current_user(), args.get("status"), args["limit"], args.get("cursor")
        )

    @blp.arguments(SessionCreateSchema)
    @blp.response(201, SessionCreatedSchema)
    @blp.alt_response(200, schema=SessionCreatedSchema, description="Retried create")
    def post(self, data):
        """Start a session (the same sessionId again returns the existing one)."""
        session, created = service.create_session(current_user(), data)
        body = {"session_id": session.session_id, "session": session}
        if not created:
            return body, 200
        return body, 201, {"Location": url_for(".SessionItem", session_id=session.session_id)}


@blp.route("/sessions/<string:session_id>")
class SessionItem(MethodView):
    """One session."""

    @blp.response(200, SessionDetailSchema)
    def get(self, session_id):
        """Get a session with its transcript and latest report."""
        return service.session_detail(current_user(), session_id)

    @blp.response(204)
    def delete(self, session_id):
        """Delete a session, its transcript and its reports."""
        service.delete_session(current_user(), session_id)


@blp.route("/sessions/<string:session_id>/conversations")
class Messages(MethodView):
    """A session's transcript."""

    @blp.arguments(MessagePageArgsSchema, location="query")
    @blp.response(200, MessagePageSchema)
    def get(self, args, session_id):
        """Page through the transcript in order (with the session's status and message count)."""
        return service.transcript_page(
            current_user(), session_id, args.get("after"), args["limit"], args.get("cursor")
        )

    @blp.arguments(ConversationAppendSchema)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(201, ConversationAppendedSchema)
    @blp.alt_response(409, description="The session is not in progress")
    def post(self, data, headers, session_id):
        """Append a message or a batch (idempotent with clientMessageId/Idempotency-Key)."""
        messages = service.append_messages(
            current_user(),
            session_id,
            data["messages"],
            batch=data["batch"],
            idempotency_key=headers.get("idempotency_key"),
        )
        location = {"Location": url_for(".Messages", session_id=session_id)}
        if data["batch"]:
            indexes = [message.message_index for message in messages]
            return {"message_indexes": indexes, "conversations": messages}, 201, location
        body = {"message_index": messages[0].message_index, "conversation": messages[0]}
        return body, 201, location


@blp.route("/sessions/<string:session_id>/end")
class SessionEnd(MethodView):
    """Ending a session."""

    @blp.arguments(SessionEndSchema, required=False)  # every field is optional: no body is fine
    @blp.response(200, SessionResponseSchema)
    @blp.alt_response(409, description="Already ended with another status")
    def put(self, data, session_id):
        """End the session (completed, or abandoned)."""
        session = service.end_session(
            current_user(), session_id, data["status"], data.get("end_time")
        )
        return {"session": session}


@blp.route("/sessions/<string:session_id>/reports")
class Reports(MethodView):
    """A session's reports."""

    @blp.response(200, ReportListSchema)
    def get(self, session_id):
        """List the session's reports, newest first."""
        return {"items": service.list_reports(current_user(), session_id)}

    @blp.arguments(ReportCreateSchema)
    @blp.response(201, ReportResponseSchema)
    def post(self, data, session_id):
        """Store a report (statistics computed from the transcript when missing)."""
        report = service.add_report(
            current_user(), session_id, data["report_type"], data["content"]
        )
        return {"report": report}, 201, {"Location": url_for(".Reports", session_id=session_id)}


@blp.route("/sessions/<string:session_id>/reports/<objectid(besides='generate'):report_id>")
class ReportItem(MethodView):
    """One report."""

    @blp.response(200, ReportResponseSchema)
    def get(self, session_id, report_id):
        """Get one report in any status (poll a pending generation here)."""
        return {"report": service.get_report(current_user(), session_id, report_id)}


@blp.route("/sessions/<string:session_id>/report")
class LatestReport(MethodView):
    """The latest report."""

    @blp.arguments(ReportArgsSchema, location="query")
    @blp.response(200, ReportResponseSchema)
    def get(self, args, session_id):
        """Get the latest ready report (of reportType when given); 404 when there is none."""
        report = service.latest_report(current_user(), session_id, args.get("report_type"))
        return {"report": report}
