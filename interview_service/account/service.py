"""Rules of the whole account: compose the modules' per-user export and deletion."""

from interview_service import modules, times


def export_user(user):
    """The export of `user`: who, when, and every module's lazy cursors on what they own
    (sessions with transcripts and reports, interviews, performances), each oldest first."""
    return {"user_id": user, "exported_at": times.now(), **modules.merged("export_user", user)}


def delete_user(user):
    """Delete everything `user` owns in every module; return the counts of each kind."""
    return modules.merged("delete_user", user)
