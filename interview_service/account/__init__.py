"""Account composite: the caller's whole data across the modules, exported or deleted."""

from interview_service.account.routes import blp

__all__ = ["blp"]
