"""Sessions domain: agent sessions, their transcript (messages) and reports."""

from interview_service.sessions.models import DOCUMENTS
from interview_service.sessions.routes import blp
from interview_service.sessions.service import delete_user, export_user, purge_older_than

__all__ = ["DOCUMENTS", "blp", "delete_user", "export_user", "purge_older_than"]
