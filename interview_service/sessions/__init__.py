"""Sessions domain: agent sessions, their transcript (messages) and reports."""

from interview_service.sessions.models import DOCUMENTS
from interview_service.sessions.retention import delete_user, export_user, purge_older_than
from interview_service.sessions.routes import blp
from interview_service.sessions.schemas import EXPORT_SCHEMAS

__all__ = ["DOCUMENTS", "EXPORT_SCHEMAS", "blp", "delete_user", "export_user", "purge_older_than"]
