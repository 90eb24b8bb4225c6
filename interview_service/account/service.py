"""Rules of the whole account: compose the blueprints' per-user export and deletion."""

from interview_service import times
from interview_service.performance import service as performance_service
from interview_service.sessions import service as sessions_service


def export_user(user):
    """The export of `user`: who, when, and lazy cursors on everything they own (sessions
    with transcripts and reports, interviews, performances), each oldest first."""
    return {
        "user_id": user,
        "exported_at": times.now(),
        "sessions": sessions_service.export_user(user),
        **performance_service.export_user(user),
    }


def delete_user(user):
    """Delete everything `user` owns; return the counts of each kind."""
    return {**sessions_service.delete_user(user), **performance_service.delete_user(user)}
