"""The cached stats answer is always the aggregation's: checked after every step of random
histories, and shared (and invalidated) across app instances."""

import random

import pytest

from interview_service import db
from interview_service.performance import service
from interview_service.performance.schemas import (
    PerformanceStatsArgsSchema,
    PerformanceStatsSchema,
)
from tests.command_log import COMMANDS
from tests.conftest import bearer
from tests.factories import completed, create_interview, save_performance

TYPES = ["technical", "behavioral", "dsa"]
COMPANIES = ["Acme", "Globex", "Initech"]
FILTERS = [
    {},
    {"interviewType": "technical"},
    {"companyName": "Acme"},
    {"experienceLevel": "senior"},
    {"limit": 3},
    {"from": "2000-01-01T00:00:00Z", "companyName": "Globex"},
    {"q": "acme"},
]


def random_fields(rng):
    """A save body with random figures, some of them left out."""
    fields = {
        "totalQuestions": rng.choice([None, 4, 10]),
        "correctAnswers": rng.choice([None, 0, 3]),
        "timeSpent": rng.choice([None, 12, 30.5]),
        "feedback": {
            "overall": rng.choice(["Good", "Weak"]),
            "strengths": rng.sample(["Clarity", "Depth", "pace"], rng.randint(0, 2)),
            "improvements": rng.sample(["Edge cases", "TIME  management"], rng.randint(0, 2)),
        },
        "roundResults": [
            {"roundType": rng.choice(["coding", "hr"]), "score": rng.randint(0, 100),
             "questionsAnswered": 1, "totalQuestions": 2}
            for _ in range(rng.randint(0, 2))
        ],
    }  # fmt: skip
    return {key: value for key, value in fields.items() if value is not None}


def aggregated(app, user, query):
    """The stats answer computed straight from the aggregation, dumped as the route does."""
    with app.test_request_context():
        args = PerformanceStatsArgsSchema().load(query)
        limit = args.pop("limit")
        return PerformanceStatsSchema().dump(service.compute_stats(user, args, limit))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cached_stats_equal_the_aggregation_on_random_histories(app, client, alice, seed):
    """Each step (create, save, delete) is followed by stats reads, so an answer cached before
    a write and served after it would differ from the aggregation."""
    rng = random.Random(seed)
    open_ids, all_ids = [], []
    for _ in range(36):
        action = rng.choice(["create", "save", "save", "delete"])
        if action == "create" or (action == "save" and not open_ids):
            job = {"interviewType": rng.choice(TYPES), "companyName": rng.choice(COMPANIES),
                   "experienceLevel": rng.choice(["mid", "senior"])}  # fmt: skip
            open_ids.append(create_interview(client, alice, **job)["id"])
            all_ids.append(open_ids[-1])
        elif action == "save":
            interview_id = open_ids.pop(rng.randrange(len(open_ids)))
            save_performance(
                client, alice, interview_id, score=rng.randint(0, 100),
                **random_fields(rng),
            )  # fmt: skip
        elif all_ids:
            gone = all_ids.pop(rng.randrange(len(all_ids)))
            open_ids = [item for item in open_ids if item != gone]
            assert client.delete(f"/api/interviews/{gone}", headers=alice).status_code == 200
        for query in rng.sample(FILTERS, 2) * 2:  # each answer twice: the second is cached
            response = client.get("/api/performance-stats", query_string=query, headers=alice)
            assert response.status_code == 200
            assert response.get_json() == aggregated(client.application, "alice", query)


def test_users_and_filters_have_their_own_answers(client, alice, bob):
    completed(client, alice, score=40, interview={"companyName": "Acme"})
    completed(client, alice, score=90, interview={"companyName": "Globex"})
    completed(client, bob, score=10)

    def average(headers, **query):
        response = client.get("/api/performance-stats", query_string=query, headers=headers)
        return response.get_json()["summary"]["averageScore"]

    assert [average(alice), average(alice, companyName="Acme"), average(bob)] == [65, 40, 10]
    assert [average(alice), average(alice, companyName="Acme"), average(bob)] == [65, 40, 10]


def test_repeated_stats_read_the_cache_not_the_aggregation(wire_app):
    client = wire_app.test_client()
    alice = bearer(wire_app.config, "alice")
    completed(client, alice, score=70)
    with COMMANDS.recording() as first:
        client.get("/api/performance-stats", headers=alice)
    with COMMANDS.recording() as second:
        answer = client.get("/api/performance-stats", headers=alice)
    assert ("aggregate", "performances") in first
    assert second and not any(name == "aggregate" for name, _ in second)
    assert answer.get_json()["summary"]["completedInterviews"] == 1


def test_a_save_on_one_worker_is_seen_by_the_others_stats(make_app, wire_uri):
    first, second = make_app(wire_uri), make_app(wire_uri)
    alice = bearer(first.config, "alice")
    completed(first.test_client(), alice, score=60)
    before = first.test_client().get("/api/performance-stats", headers=alice).get_json()
    completed(second.test_client(), alice, score=80)
    after = first.test_client().get("/api/performance-stats", headers=alice).get_json()
    assert before["summary"]["completedInterviews"] == 1
    assert after["summary"]["completedInterviews"] == 2
    assert after["summary"]["averageScore"] == 70


def test_account_deletion_drops_the_cached_answers(app, client, alice):
    completed(client, alice, score=70)
    client.get("/api/performance-stats", headers=alice)
    with app.app_context():
        service.delete_user("alice")
        left = db.database()["stats_cache"].count_documents({"answer": {"$exists": True}})
    answer = client.get("/api/performance-stats", headers=alice).get_json()
    assert left == 0
    assert answer["summary"]["completedInterviews"] == 0
