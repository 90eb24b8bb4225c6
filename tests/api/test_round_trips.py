"""What the hot paths ask the database: a cached stats answer is two indexed lookups (results
left unlinked by a crashed save, then the cache), and a save reads
a bounded number of open interviews however many the user has, yet still links any result
whose save died before linking it."""

import threading
from datetime import UTC, datetime, timedelta

from pymongo import monitoring

from interview_service import db
from interview_service.performance.models import Interview, Performance
from interview_service.performance.service import RECENT_OPEN
from tests.command_log import COMMANDS
from tests.conftest import bearer
from tests.factories import (
    completed,
    crashed_save,
    create_interview,
    interview_body,
    save_performance,
)


class ReturnedDocuments(monitoring.CommandListener):
    """Counts the documents each find/getMore on `interviews` answered while recording."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = None
        self._collections = {}

    def started(self, event):
        if self._counts is not None and event.command_name in ("find", "getMore"):
            collection = event.command.get("collection", event.command.get("find"))
            with self._lock:
                self._collections[event.request_id] = collection

    def succeeded(self, event):
        with self._lock:
            collection = self._collections.pop(event.request_id, None)
            if self._counts is None or collection != "interviews":
                return
            cursor = event.reply.get("cursor", {})
            batch = cursor.get("firstBatch", cursor.get("nextBatch", []))
            self._counts.append(len(batch))

    def failed(self, event):
        with self._lock:
            self._collections.pop(event.request_id, None)

    def recording(self):
        """Start recording; returns the list the counts go to."""
        self._counts = []
        return self._counts

    def stop(self):
        self._counts = None


# Registered at import, before the test apps create their clients; inert while not recording.
RETURNED = ReturnedDocuments()
monitoring.register(RETURNED)


def test_a_cached_stats_answer_is_two_lookups(wire_app):
    client = wire_app.test_client()
    alice = bearer(wire_app.config, "alice")
    completed(client, alice, score=70)
    first = client.get("/api/performance-stats", headers=alice).get_json()
    with COMMANDS.recording() as commands:
        cached = client.get("/api/performance-stats", headers=alice).get_json()
    asked = [command for command in commands if command[1] != "rate_limits"]
    assert asked == [("find", "performances"), ("find", "stats_cache")]
    assert cached == first
    assert cached["summary"]["completedInterviews"] == 1


def open_interviews(app, user, count):
    """Store `count` ready interviews of `user`, created a day ago, oldest first; their ids."""
    older = datetime.now(UTC) - timedelta(days=1)
    with app.app_context():
        return Interview.objects.insert(
            [
                Interview(
                    user_id=user,
                    job_title="Backend Engineer",
                    company_name="Acme",
                    interview_type="technical",
                    experience_level="mid",
                    created_at=older + timedelta(seconds=number),
                )
                for number in range(count)
            ],
            load_bulk=False,
        )


def test_a_save_reads_a_bounded_number_of_open_interviews(wire_app):
    client = wire_app.test_client()
    alice = bearer(wire_app.config, "alice")
    open_interviews(wire_app, "alice", RECENT_OPEN * 3)
    interview = create_interview(client, alice)
    counts = RETURNED.recording()
    try:
        answer = save_performance(client, alice, interview["id"], score=81)
    finally:
        RETURNED.stop()
    assert answer["performance"]["score"] == 81
    assert counts and sum(counts) <= RECENT_OPEN + 1


def test_a_save_links_a_crashed_save_behind_many_newer_open_interviews(app, client, alice):
    crashed, *_ = open_interviews(app, "alice", RECENT_OPEN * 2)  # the oldest open one
    performance = crashed_save(app, crashed)
    save_performance(client, alice, create_interview(client, alice)["id"], score=90)
    with app.app_context():
        stored = Interview.objects.get(id=crashed)
    assert stored.status == "completed"
    assert stored.performance_id == performance.id


def test_a_crashed_save_after_a_cached_answer_shows_in_the_next_stats(app, client, alice):
    completed(client, alice, score=70)
    interview = create_interview(client, alice)
    before = client.get("/api/performance-stats", headers=alice).get_json()
    crashed_save(app, interview["id"], score=50)
    after = client.get("/api/performance-stats", headers=alice).get_json()
    assert before["summary"]["activeInterviews"] == 1
    assert after["summary"]["activeInterviews"] == 0
    assert after["summary"]["completedInterviews"] == 2
    assert after["summary"]["averageScore"] == 60


WRITE_COMMANDS = {"insert", "update", "delete", "findAndModify"}


def test_a_save_sends_only_its_insert_as_a_retryable_write(wire_app):
    client = wire_app.test_client()
    alice = bearer(wire_app.config, "alice")
    interview = create_interview(client, alice)
    with COMMANDS.recording(whole=True) as commands:
        save_performance(client, alice, interview["id"], score=64)
    named = [(next(iter(command)), command) for command in commands]  # the name comes first
    writes = [
        (name, command[name], "txnNumber" in command)
        for name, command in named
        if name in WRITE_COMMANDS
    ]
    assert ("insert", "performances", True) in writes
    assert {collection for _, collection, _ in writes} >= {"interviews", "stats_cache"}
    assert [write for write in writes if write[2]] == [("insert", "performances", True)]


def dropped_once(admin, app, command):
    """Arm a one-shot dropped connection on the app's next `command`."""
    data = {
        "failCommands": [command],
        "appName": db.client_options(app.config)["appname"],
        "closeConnection": True,
    }
    admin.command({"configureFailPoint": "failCommand", "mode": {"times": 1}, "data": data})


def test_a_save_survives_a_dropped_connection_on_its_link(wire_app, admin):
    client = wire_app.test_client()
    alice = bearer(wire_app.config, "alice")
    interview = create_interview(client, alice)
    dropped_once(admin, wire_app, "update")  # its first update links the interview
    try:
        answer = save_performance(client, alice, interview["id"], score=70)
    finally:
        admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    with wire_app.app_context():
        stored = Interview.objects.get(id=interview["id"])
        unlinked = Performance.objects.unlinked().count()
    assert answer["interviewUpdated"] is True
    assert stored.status == "completed"
    assert str(stored.performance_id) == answer["performanceId"]
    assert unlinked == 0


def test_a_create_survives_a_dropped_connection_on_the_stats_bump(wire_app, admin):
    client = wire_app.test_client()
    alice = bearer(wire_app.config, "alice")
    completed(client, alice, score=70)
    before = client.get("/api/performance-stats", headers=alice).get_json()
    dropped_once(admin, wire_app, "update")  # a create's one update is the bump
    try:
        response = client.post("/api/interviews", json=interview_body(), headers=alice)
    finally:
        admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    after = client.get("/api/performance-stats", headers=alice).get_json()
    assert response.status_code == 201
    assert before["summary"]["activeInterviews"] == 0
    assert after["summary"]["activeInterviews"] == 1
