"""HTTP routes of the sessions blueprint."""

from interview_service.extensions import Blueprint

blp = Blueprint("sessions", __name__, url_prefix="/api", description="sessions")
