"""Operational endpoints: liveness, readiness and metrics (never rate limited)."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

from interview_service import db, observability
from interview_service.extensions import Blueprint
from interview_service.schemas import ResponseSchema

blp = Blueprint("ops", __name__, auth=False, description="Liveness and readiness probes, metrics")


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


# Exactly one path (the app serves /healthz/ for /healthz, not /metrics/ for /metrics), so
# nginx's allow-list on /metrics covers every way to reach the metrics.
@blp.route("/metrics", strict_slashes=True)
class Metrics(MethodView):
    """Prometheus metrics."""

    @blp.doc(
        security=[],
        responses={
            "200": {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    def get(self):
        """Request counts and latencies by route and status, and database outages."""
        if not current_app.config["METRICS_ENABLED"]:
            abort(404)
        return observability.metrics_response()
