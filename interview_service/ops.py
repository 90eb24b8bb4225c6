"""Operational endpoints: liveness and readiness."""

from flask.views import MethodView

from interview_service import db
from interview_service.extensions import Blueprint
from interview_service.schemas import ResponseSchema

blp = Blueprint("ops", __name__, description="Liveness and readiness probes")


@blp.route("/healthz")
class Health(MethodView):
    """Liveness."""

    @blp.doc(security=[])
    @blp.response(200, ResponseSchema)
    def get(self):
        """The process is alive."""
        return {}


@blp.route("/readyz")
class Ready(MethodView):
    """Readiness."""

    @blp.doc(security=[])
    @blp.response(200, ResponseSchema)
    @blp.alt_response(503, description="The database is unreachable")
    def get(self):
        """The database answers a ping (503 when it does not)."""
        db.ping()
        return {}
