"""The benchmark's yardstick: the same operations in plain Flask + pymongo, nothing else.

It verifies the same bearer tokens and stores the same document shapes as the service, but
has no schemas, no error envelope, no OpenAPI and no validation beyond what a request needs.
Served by gunicorn with the service's config: `BASELINE_MONGODB_URI=... gunicorn bench.baseline:app`
(bench/run.py does it).
"""

import csv
import io
import os
import secrets
from datetime import UTC, datetime

import jwt
import pymongo
from bson import ObjectId
from flask import Flask, Response, abort, jsonify, request

# The service's own pipeline, run bare: the stats target compares with it.
from interview_service.performance.stats import pipeline as stats_pipeline

app = Flask(__name__)
_client = None


def database():
    """The database, connected lazily in each worker (after gunicorn forks)."""
    global _client
    if _client is None:
        _client = pymongo.MongoClient(os.environ["BASELINE_MONGODB_URI"], tz_aware=True)
    return _client.get_default_database()


def user():
    """The verified `sub` of the bearer token, or 401."""
    header = request.headers.get("Authorization", "")
    try:
        claims = jwt.decode(header.removeprefix("Bearer "), os.environ["JWT_SECRET"], ["HS256"])
    except jwt.PyJWTError:
        abort(401)
    return claims["sub"]


def now():
    return datetime.now(UTC)


def plain(document):
    """A document as JSON-ready data."""
    return {
        key: str(value) if isinstance(value, ObjectId) else value for key, value in document.items()
    }


@app.get("/healthz")
def healthz():
    return {"success": True}


@app.post("/api/sessions")
def create_session():
    body = request.get_json()
    moment = now()
    session = {
        "sessionId": secrets.token_urlsafe(24),
        "userId": user(),
        "config": body["config"],
        "resume": body.get("resume"),
        "startTime": moment,
        "status": "in_progress",
        "statistics": {"questionCount": 0, "totalMessages": 0, "userMessages": 0},
        "nextMessageIndex": 0,
        "createdAt": moment,
        "updatedAt": moment,
    }
    database().sessions.insert_one(session)
    return {"success": True, "sessionId": session["sessionId"], "session": plain(session)}, 201


@app.post("/api/sessions/<session_id>/conversations")
def append_message(session_id):
    body = request.get_json()
    owner = user()
    session = database().sessions.find_one_and_update(
        {"sessionId": session_id, "userId": owner, "status": "in_progress"},
        {"$inc": {"nextMessageIndex": 1, "statistics.totalMessages": 1}},
        return_document=pymongo.ReturnDocument.AFTER,
    )
    if session is None:
        abort(404)
    message = {
        "sessionId": session_id,
        "role": body["role"],
        "content": body["content"],
        "timestamp": now(),
        "messageIndex": session["nextMessageIndex"] - 1,
        "createdAt": now(),
    }
    database().conversations.insert_one(message)
    return {
        "success": True,
        "messageIndex": message["messageIndex"],
        "conversation": plain(message),
    }, 201


@app.post("/api/sessions/<session_id>/reports")
def add_report(session_id):
    body = request.get_json()
    if database().sessions.find_one({"sessionId": session_id, "userId": user()}) is None:
        abort(404)
    report = {"sessionId": session_id, **body, "generatedAt": now(), "createdAt": now()}
    database().reports.insert_one(report)
    return {"success": True, "report": plain(report)}, 201


@app.get("/api/sessions/<session_id>")
def get_session(session_id):
    session = database().sessions.find_one({"sessionId": session_id, "userId": user()})
    if session is None:
        abort(404)
    messages = database().conversations.find({"sessionId": session_id}).sort("messageIndex", 1)
    report = database().reports.find_one({"sessionId": session_id}, sort=[("createdAt", -1)])
    return {
        "success": True,
        "session": plain(session),
        "conversations": [plain(message) for message in messages],
        "report": plain(report) if report else None,
    }


@app.post("/api/interviews")
def create_interview():
    interview = {**request.get_json(), "userId": user(), "status": "ready", "createdAt": now()}
    database().interviews.insert_one(interview)
    return {"success": True, "interview": plain(interview)}, 201


@app.post("/api/save-performance")
def save_performance():
    body = request.get_json()
    owner = user()
    interview = database().interviews.find_one(
        {"_id": ObjectId(body["interviewId"]), "userId": owner}
    )
    if interview is None:
        abort(404)
    fields = ("jobTitle", "companyName", "interviewType", "experienceLevel")
    performance = {
        "userId": owner,
        "interviewId": interview["_id"],
        **{field: interview.get(field) for field in fields},
        "completedAt": now(),
        "score": body["score"],
        "totalQuestions": body.get("totalQuestions"),
        "correctAnswers": body.get("correctAnswers"),
        "timeSpent": body.get("timeSpent"),
        "feedback": body.get("feedback"),
    }
    saved = database().performances.find_one_and_update(
        {"interviewId": interview["_id"]},
        {"$setOnInsert": performance},
        upsert=True,
        return_document=pymongo.ReturnDocument.AFTER,
    )
    database().interviews.update_one(
        {"_id": interview["_id"]},
        {
            "$set": {
                "status": "completed",
                "completedAt": saved["completedAt"],
                "performanceId": saved["_id"],
            }
        },
    )
    return {"success": True, "performanceId": str(saved["_id"]), "performance": plain(saved)}, 201


@app.get("/api/performances")
def list_performances():
    cursor = (
        database()
        .performances.find({"userId": user()})
        .sort([("completedAt", -1), ("_id", -1)])
        .limit(int(request.args.get("limit", 20)))
    )
    return jsonify(success=True, items=[plain(item) for item in cursor], nextCursor=None)


def ensure_indexes(database):
    """The indexes a minimal app needs for these queries."""
    database.sessions.create_index("sessionId", unique=True)
    database.conversations.create_index([("sessionId", 1), ("messageIndex", 1)], unique=True)
    database.reports.create_index([("sessionId", 1), ("createdAt", -1)])
    database.interviews.create_index([("userId", 1), ("createdAt", -1)])
    database.performances.create_index("interviewId", unique=True)
    database.performances.create_index([("userId", 1), ("completedAt", -1), ("_id", -1)])


@app.get("/api/performance-stats")
def performance_stats():
    stages = [{"$match": {"userId": user()}}, {"$sort": {"completedAt": 1, "_id": 1}}]
    facets = next(
        database().performances.aggregate(stages + stats_pipeline(100), allowDiskUse=True)
    )
    return jsonify(success=True, facets=facets)


COLUMNS = ("_id", "interviewId", "completedAt", "jobTitle", "companyName", "score", "timeSpent")


@app.get("/api/performances/export.csv")
def export_csv():
    cursor = (
        database().performances.find({"userId": user()}).sort("completedAt", -1).batch_size(500)
    )

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for number, item in enumerate(cursor, 1):
            writer.writerow([item.get(column) for column in COLUMNS])
            if number % 200 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(rows(), mimetype="text/csv")
