"""The rate limiter's one write per request is not a retryable write (SecantusDB walks its
whole record of those on each one), and a dropped connection on it is still survived."""

import pymongo.errors
import pytest

from interview_service import ratelimit
from tests.command_log import COMMANDS
from tests.conftest import LIMITS

LIMITED = "/api/openapi.json"  # any route outside the ops blueprint is limited


@pytest.fixture
def app_settings():
    """`wire_app` counting 5 requests per minute per caller in the wire server."""
    return {**LIMITS, "RATE_LIMIT_DEFAULT": "5 per minute"}


def test_the_count_is_sent_without_a_transaction_number(wire_app):
    client = wire_app.test_client()
    with COMMANDS.recording(whole=True) as sent:
        responses = [client.get(LIMITED) for _ in range(2)]
    commands = [command for command in sent if command.get("findAndModify") == "rate_limits"]
    assert [response.headers["X-RateLimit-Remaining"] for response in responses] == ["4", "3"]
    assert len(commands) == 2
    assert not any("txnNumber" in command for command in commands)


def test_a_dropped_connection_on_the_count_is_survived(wire_app, admin):
    client = wire_app.test_client()
    first = client.get(LIMITED)  # the storage's client and indexes are made on the first request
    appname = ratelimit.storage_settings(wire_app.config)[1]["appname"]
    admin.command(
        {
            "configureFailPoint": "failCommand",
            "mode": {"times": 1},
            "data": {
                "failCommands": ["findAndModify"],
                "appName": appname,
                "closeConnection": True,
            },
        }
    )
    try:
        second = client.get(LIMITED)
    finally:
        admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    assert first.headers["X-RateLimit-Remaining"] == "4"
    assert second.status_code == 200
    assert second.headers["X-RateLimit-Remaining"] == "3"


def test_a_timeout_on_the_count_is_not_retried(wire_app, monkeypatch):
    client = wire_app.test_client()
    client.get(LIMITED)
    attempts = []

    def timing_out(self, key, expiry, amount):
        attempts.append(key)
        raise pymongo.errors.NetworkTimeout("timed out")

    monkeypatch.setattr(ratelimit.MongoDBStorage, "_count", timing_out)
    response = client.get(LIMITED)
    assert response.status_code == 503
    assert len(attempts) == 1
