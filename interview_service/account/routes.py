"""HTTP routes of the account blueprint: the caller's whole data, exported or deleted."""

from flask import Response, stream_with_context
from flask.views import MethodView

from interview_service.account import export, service
from interview_service.account.schemas import AccountDeletedSchema, AccountExportSchema
from interview_service.auth import current_user
from interview_service.extensions import Blueprint
from interview_service.openapi import header

blp = Blueprint(
    "account",
    __name__,
    url_prefix="/api",
    description="The caller's whole data: export it as one JSON document, or delete it",
)

ATTACHMENT = {"Content-Disposition": header("attachment; filename=interview-data-<time>.json")}


@blp.route("/me")
class Me(MethodView):
    """The caller's account data."""

    @blp.response(200, AccountDeletedSchema)
    def delete(self):
        """Delete all the caller's data: sessions, transcripts, reports, interviews, results."""
        return {"deleted": service.delete_user(current_user())}


@blp.route("/me/export")
class MeExport(MethodView):
    """Export of the caller's data."""

    @blp.response(200, AccountExportSchema, headers=ATTACHMENT)
    def get(self):
        """Download everything the caller owns as one JSON document (streamed)."""
        parts = service.export_user(current_user())
        stamp = parts["exported_at"].strftime("%Y%m%dT%H%M%SZ")
        return Response(
            stream_with_context(export.json_chunks(parts)),
            mimetype="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="interview-data-{stamp}.json"',
                "X-Accel-Buffering": "no",  # let nginx pass the stream on as it comes
            },
        )
