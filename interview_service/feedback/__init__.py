"""Feedback composite: generates a session's report on the server (provider, worker)."""

from interview_service.feedback.routes import blp

__all__ = ["blp"]
