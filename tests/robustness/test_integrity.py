"""Data integrity across racing requests and faults: every interleaving ends whole, on every tier.

The races are forced into one order at a time by running the other request at the chosen
point of the first (a wrapped service step), so each interleaving is proven, not sampled.
"""

from bson import ObjectId
from pymongo.errors import AutoReconnect

from interview_service.performance import service as performance_service
from interview_service.performance.models import Interview, Performance, PerformanceQuerySet
from interview_service.sessions import service as sessions_service
from interview_service.sessions.models import Message, Report, SessionQuerySet
from interview_service.sessions.models import Session as SessionDocument
from tests.factories import append, create_interview, create_session, save_performance

SESSION_ID = "reused-session-id-0001"


def detail(client, headers, session_id=SESSION_ID):
    response = client.get(f"/api/sessions/{session_id}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def run_before(monkeypatch, owner, name, action):
    """Run `action()` once, just before the first call of `owner.name` (then call it)."""
    original = getattr(owner, name)
    pending = [action]

    def wrapped(*args, **kwargs):
        if pending:
            pending.pop()()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


# --- 14.1: a deleted session's messages never reach a session created again under its id ------


def test_append_racing_the_delete_never_reaches_the_recreated_session(
    monkeypatch, client, alice, bob
):
    create_session(client, alice, sessionId=SESSION_ID)
    assert (
        append(client, SESSION_ID, alice, content="first", clientMessageId="m-1").status_code == 201
    )
    # The second append has reserved index 1 when the delete runs; its insert lands after.
    run_before(
        monkeypatch,
        sessions_service,
        "_insert",
        lambda: sessions_service.delete_session("alice", SESSION_ID),
    )
    late = append(client, SESSION_ID, alice, content="late", clientMessageId="m-2")
    assert late.status_code == 201
    assert Message.objects(session_id=SESSION_ID).count() == 1  # the stray, unreachable

    create_session(client, bob, sessionId=SESSION_ID)
    assert detail(client, bob)["conversations"] == []
    assert detail(client, bob)["session"]["statistics"]["totalMessages"] == 0
    # The same clientMessageId and index as the stray's: stored as bob's own, no collision.
    again = append(client, SESSION_ID, bob, content="bob's", clientMessageId="m-2")
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["messageIndex"] == 0
    answer = detail(client, bob)
    assert [m["content"] for m in answer["conversations"]] == ["bob's"]
    assert answer["conversations"][0]["sessionId"] == SESSION_ID
    paged = client.get(f"/api/sessions/{SESSION_ID}/conversations", headers=bob).get_json()
    assert [m["content"] for m in paged["items"]] == ["bob's"]


def test_reports_of_a_deleted_session_never_reach_the_recreated_one(client, alice, bob):
    create_session(client, alice, sessionId=SESSION_ID)
    old = SessionDocument.objects.get(session_id=SESSION_ID)
    client.delete(f"/api/sessions/{SESSION_ID}", headers=alice)
    # What a report write racing the delete leaves behind.
    Report(
        session_id=SESSION_ID,
        session_ref=old.id,
        report_type="feedback",
        generated_at=old.created_at,
        content={"summary": "alice's"},
        created_at=old.created_at,
    ).save()
    create_session(client, bob, sessionId=SESSION_ID)
    assert detail(client, bob)["report"] is None
    assert client.get(f"/api/sessions/{SESSION_ID}/report", headers=bob).status_code == 404
    reports = client.get(f"/api/sessions/{SESSION_ID}/reports", headers=bob).get_json()
    assert reports["items"] == []


def test_repair_removes_what_a_deleted_session_left_and_keeps_the_live_transcript(
    monkeypatch, client, runner, alice, bob
):
    create_session(client, alice, sessionId=SESSION_ID)
    run_before(
        monkeypatch,
        sessions_service,
        "_insert",
        lambda: sessions_service.delete_session("alice", SESSION_ID),
    )
    assert append(client, SESSION_ID, alice, content="late").status_code == 201
    monkeypatch.undo()
    create_session(client, bob, sessionId=SESSION_ID)
    assert append(client, SESSION_ID, bob, content="kept").status_code == 201
    result = runner.invoke(args=["repair"])
    assert result.exit_code == 0, result.output
    assert "1 left by deleted sessions removed" in result.output
    assert [m.content for m in Message.objects(session_id=SESSION_ID)] == ["kept"]


def test_repair_keys_messages_of_earlier_versions_by_their_session(client, runner, alice):
    create_session(client, alice, sessionId=SESSION_ID)
    assert append(client, SESSION_ID, alice, content="kept").status_code == 201
    stored = SessionDocument.objects.get(session_id=SESSION_ID)
    # An earlier version stored neither the key nor a message of a deleted namesake apart.
    Message.objects(session_id=SESSION_ID).update(unset__session_ref=True)
    Message(
        session_id=SESSION_ID,
        session_ref=ObjectId(),
        role="user",
        content="stray",
        timestamp=stored.created_at,
        message_index=7,
        created_at=stored.created_at,
    ).save()
    Message.objects(content="stray").update(unset__session_ref=True)
    Message.objects(content="stray").update(
        set__created_at=stored.created_at.replace(year=stored.created_at.year - 1)
    )
    conversations = Message._get_collection()
    conversations.create_index([("sessionId", 1), ("messageIndex", 1)], unique=True)
    result = runner.invoke(args=["repair"])
    assert result.exit_code == 0, result.output
    assert "transcripts: 1 old indexes dropped, 1 messages/reports keyed" in result.output
    assert "1 left by deleted sessions removed" in result.output
    keys = [
        [tuple(key) for key in index["key"]] for index in conversations.index_information().values()
    ]
    assert [("sessionId", 1), ("messageIndex", 1)] not in keys
    assert [("sessionId", 1), ("sessionRef", 1), ("messageIndex", 1)] in keys
    assert [m["content"] for m in detail(client, alice)["conversations"]] == ["kept"]
    assert Message.objects(session_id=SESSION_ID).count() == 1


# --- 14.2: a performance saved while its interview is deleted: both or neither ----------------


def delete_now(interview_id):
    return lambda: performance_service.delete_interview("alice", interview_id)


def assert_both_or_neither(client, alice, interview_id):
    interviews = Interview.objects(id=interview_id).count()
    performances = Performance.objects(interview_id=interview_id).count()
    assert (interviews, performances) in [(1, 1), (0, 0)]
    assert Performance.objects(interview_id__nin=list(Interview.objects.scalar("id"))).count() == 0
    stats = client.get("/api/performance-stats", headers=alice).get_json()
    assert stats["summary"]["completedInterviews"] == performances
    return interviews


def test_delete_before_the_save_inserts_leaves_neither(monkeypatch, client, alice):
    interview = create_interview(client, alice)
    run_before(monkeypatch, performance_service, "_new_performance", delete_now(interview["id"]))
    save_performance(client, alice, interview["id"], expected=404)
    assert assert_both_or_neither(client, alice, interview["id"]) == 0


def test_delete_between_insert_and_link_leaves_neither(monkeypatch, client, alice):
    interview = create_interview(client, alice)
    run_before(monkeypatch, Performance, "link_interview", delete_now(interview["id"]))
    save_performance(client, alice, interview["id"], expected=404)
    assert assert_both_or_neither(client, alice, interview["id"]) == 0


def test_save_between_the_deletes_sweeps_leaves_neither(monkeypatch, client, alice):
    interview = create_interview(client, alice)
    original = PerformanceQuerySet.delete
    saves = []

    def delete_then_save(self, *args, **kwargs):
        deleted = original(self, *args, **kwargs)
        if not saves:  # a whole save between the first sweep and the interview's delete
            saves.append(save_performance(client, alice, interview["id"]))
        return deleted

    monkeypatch.setattr(PerformanceQuerySet, "delete", delete_then_save)
    response = client.delete(f"/api/interviews/{interview['id']}", headers=alice)
    assert response.status_code == 200
    assert saves[0]["interviewUpdated"] is True
    assert assert_both_or_neither(client, alice, interview["id"]) == 0


def test_delete_after_the_save_leaves_neither_and_a_later_save_is_404(client, alice):
    interview = create_interview(client, alice)
    save_performance(client, alice, interview["id"])
    assert client.delete(f"/api/interviews/{interview['id']}", headers=alice).status_code == 200
    save_performance(client, alice, interview["id"], expected=404)
    assert assert_both_or_neither(client, alice, interview["id"]) == 0


def test_repair_drops_the_pending_report_index_of_earlier_versions(app, runner):
    reports = Report._get_collection()
    reports.create_index(
        [("sessionId", 1), ("sessionRef", 1)],
        name="one_pending_report_per_session",
        unique=True,
        partialFilterExpression={"status": "pending"},
    )
    result = runner.invoke(args=["repair"])
    assert result.exit_code == 0, result.output
    assert "transcripts: 1 old indexes dropped" in result.output
    assert "one_pending_report_per_session" not in reports.index_information()
    assert "one_generation_per_number" in reports.index_information()


def test_repair_removes_a_performance_whose_interview_is_gone(client, runner, alice):
    kept = create_interview(client, alice)
    save_performance(client, alice, kept["id"])
    # What a save whose process died after its insert, racing a delete, leaves behind.
    Performance(user_id="alice", interview_id=ObjectId(), score=50).derive().save()
    result = runner.invoke(args=["repair"])
    assert result.exit_code == 0, result.output
    assert "1 without an interview removed" in result.output
    assert Performance.objects.count() == 1
    assert_both_or_neither(client, alice, kept["id"])


def test_crashed_save_is_linked_by_the_next_write_and_by_repair(client, runner, alice):
    crashed, other = create_interview(client, alice), create_interview(client, alice)
    Performance(user_id="alice", interview_id=ObjectId(crashed["id"]), score=61).derive().save()
    assert Interview.objects.get(id=crashed["id"]).performance_id is None
    save_performance(client, alice, other["id"])  # any save of the user repairs
    assert Interview.objects.get(id=crashed["id"]).status == "completed"

    Interview.objects(id=crashed["id"]).update_one(set__status="ready", unset__performance_id=1)
    result = runner.invoke(args=["repair"])
    assert "performances: 1 linked to their interview" in result.output
    assert Interview.objects.get(id=crashed["id"]).status == "completed"


# --- 14.4: statistics agree with the stored transcript after a fault ---------------------------


def fail_insert_and_give_back(monkeypatch):
    """The database goes away after the reservation: the insert and the give-back both fail."""

    def unreachable(*args, **kwargs):
        raise AutoReconnect("connection closed")

    monkeypatch.setattr(type(Message.objects), "insert", unreachable)
    monkeypatch.setattr(SessionQuerySet, "release_indexes", unreachable)


def test_statistics_agree_with_the_transcript_after_a_lost_append(monkeypatch, client, alice):
    create_session(client, alice, sessionId=SESSION_ID)
    assert append(client, SESSION_ID, alice, content="kept").status_code == 201
    with monkeypatch.context() as patch:
        fail_insert_and_give_back(patch)
        assert append(client, SESSION_ID, alice, content="lost").status_code == 503
    assert append(client, SESSION_ID, alice, content="after").status_code == 201
    answer = detail(client, alice)
    assert [m["messageIndex"] for m in answer["conversations"]] == [0, 2]
    assert answer["session"]["statistics"] == {
        "questionCount": 0,
        "totalMessages": 2,
        "userMessages": 2,
        "agentMessages": 0,
    }


def test_repair_corrects_the_stored_counters_and_reports_the_gap(
    monkeypatch, client, runner, alice
):
    create_session(client, alice, sessionId=SESSION_ID)
    assert append(client, SESSION_ID, alice, content="kept").status_code == 201
    with monkeypatch.context() as patch:
        fail_insert_and_give_back(patch)
        assert append(client, SESSION_ID, alice, content="lost").status_code == 503
    stored = SessionDocument.objects.get(session_id=SESSION_ID)
    assert stored.statistics.total_messages == 2  # the lost append is still counted
    not_settled = runner.invoke(args=["repair"])
    assert "0 session counters corrected" in not_settled.output

    result = runner.invoke(args=["repair", "--settled-minutes", "0"])
    assert result.exit_code == 0, result.output
    assert "1 session counters corrected, 1 sessions with gaps" in result.output
    assert f"gap: session {SESSION_ID} misses messageIndex 1" in result.output
    stored.reload()
    assert (stored.statistics.total_messages, stored.statistics.user_messages) == (1, 1)
    assert stored.next_message_index == 2  # the gap's index is never handed out again
    assert append(client, SESSION_ID, alice, content="next").get_json()["messageIndex"] == 2
