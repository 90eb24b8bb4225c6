"""HTTP routes of the performance blueprint."""

from interview_service.extensions import Blueprint

blp = Blueprint("performance", __name__, url_prefix="/api", description="performance")
