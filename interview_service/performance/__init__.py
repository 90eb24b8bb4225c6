"""Performance domain: interviews on the dashboard, their scored results and analytics."""

from interview_service.performance.models import DOCUMENTS
from interview_service.performance.routes import blp
from interview_service.performance.schemas import EXPORT_SCHEMAS
from interview_service.performance.service import delete_user, export_user

__all__ = ["DOCUMENTS", "EXPORT_SCHEMAS", "blp", "delete_user", "export_user"]
