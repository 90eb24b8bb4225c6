"""Services raise the domain errors themselves, with no HTTP in sight (on mongomock)."""

from datetime import timedelta

import pytest

from interview_service.errors import Conflict, Invalid, NotFound
from interview_service.performance import service as performance_service
from interview_service.performance.models import Interview
from interview_service.sessions import service as sessions_service
from interview_service.sessions.models import ABANDONED, COMPLETED

INTERVIEW = {
    "job_title": "Backend Engineer",
    "company_name": "Acme",
    "interview_type": "technical",
    "experience_level": "mid",
}
CONFIG = {"role": "Backend Engineer", "interview_type": "technical", "difficulty": "mid"}


@pytest.fixture
def database(app):
    """The mongomock connection of the app, inside its context."""
    with app.app_context():
        yield


def start(user):
    """A session of `user` (None: anonymous) started now."""
    session, created = sessions_service.create_session(user, {"config": CONFIG})
    assert created
    return session


def test_get_owned_finds_the_owners_document(database):
    interview = performance_service.create_interview("alice", INTERVIEW)
    assert Interview.objects.get_owned("alice", str(interview.id)) == interview


def test_get_owned_of_another_users_id_raises_not_found(database):
    interview = performance_service.create_interview("alice", INTERVIEW)
    with pytest.raises(NotFound):
        Interview.objects.get_owned("bob", str(interview.id))


@pytest.mark.parametrize("object_id", ["not-an-object-id", None, "0" * 24])
def test_get_owned_of_an_id_that_cannot_be_found_raises_not_found(database, object_id):
    with pytest.raises(NotFound):
        Interview.objects.get_owned("alice", object_id)


def test_get_session_of_another_users_session_raises_not_found(database):
    session = start("alice")
    with pytest.raises(NotFound, match="Session not found"):
        sessions_service.get_session("bob", session.session_id)


def test_get_session_of_an_anonymous_session_finds_it_for_anyone(database):
    session = start(None)
    assert sessions_service.get_session("bob", session.session_id) == session


def test_end_session_before_its_start_raises_invalid_on_end_time(database):
    session = start("alice")
    with pytest.raises(Invalid) as raised:
        sessions_service.end_session(
            "alice", session.session_id, COMPLETED, session.start_time - timedelta(seconds=1)
        )
    assert raised.value.errors == {"endTime": ["endTime must not be before startTime"]}


def test_end_session_again_another_way_raises_conflict(database):
    session = start("alice")
    sessions_service.end_session("alice", session.session_id, COMPLETED)
    with pytest.raises(Conflict, match="already completed"):
        sessions_service.end_session("alice", session.session_id, ABANDONED)


def test_anonymous_session_with_a_guessable_id_raises_invalid(database):
    data = {"config": CONFIG, "session_id": "session-1"}
    with pytest.raises(Invalid) as raised:
        sessions_service.create_session(None, data)
    assert list(raised.value.errors) == ["sessionId"]


def test_delete_of_another_users_interview_raises_not_found_and_keeps_it(database):
    interview = performance_service.create_interview("alice", INTERVIEW)
    with pytest.raises(NotFound):
        performance_service.delete_interview("bob", str(interview.id))
    assert Interview.objects(id=interview.id).count() == 1
