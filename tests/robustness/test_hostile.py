"""Hostile input to every route of the url_map: a 4xx JSON error, never a 5xx, nothing stored.

The routes are read from the app's url_map, so a blueprint's routes are covered as soon as it
is registered. Each request is checked on its own: status, error shape, and a snapshot of every
collection taken before and after it.
"""

import re

import pytest

from interview_service import db
from tests.conftest import offline_app
from tests.factories import ERROR_KEYS

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PATH_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# Well-formed for every id pattern of the design (24 hex, sessionId's 16–64 [A-Za-z0-9_-]).
ABSENT_ID = "0" * 24

DEEP = 10_000
HOSTILE_BODIES = {
    "truncated": b'{"config": {"role": ',
    "single-quotes": b"{'score': 1}",
    "trailing-comma": b'{"score": 1,}',
    "bare-word": b"undefined",
    "array": b"[]",
    "string": b'"hello"',
    "number": b"12",
    "deep-arrays": b"[" * DEEP + b"]" * DEEP,
    "deep-objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "50000-digit-integer": b'{"score": ' + b"9" * 50_000 + b"}",
    "int-beyond-64-bits": b'{"score": 18446744073709551616}',
    "float-overflow": b'{"score": 1e400}',
    "nan": b'{"score": NaN}',
    "infinity": b'{"score": -Infinity}',
    "lone-surrogate": b'{"content": "\\ud800", "role": "user"}',
    "invalid-utf8": b'{"content": "\xff\xfe", "role": "user"}',
    "nul-in-value": b'{"content": "a\\u0000b", "role": "user"}',
    "nul-in-key": b'{"a\\u0000b": 1}',
    "over-max-content-length": b'{"content": "' + b"x" * (2 * 1024 * 1024) + b'"}',
    "wrong-types": b'{"config": "x", "score": "high", "interviewId": 12, "messages": "x"}',
    "null-fields": b'{"config": null, "score": null, "interviewId": null, "role": null}',
    "operator-body": b'{"$ne": null}',
    "operator-in-id": b'{"interviewId": {"$ne": null}, "sessionId": {"$gt": ""}, "score": 50}',
    "operator-in-field": b'{"config": {"$set": {"userId": "bob"}}, "status": {"$ne": "x"}}',
    "where-clause": b'{"$where": "sleep(1000)"}',
    "dotted-key": b'{"config.role": "x", "a.b": 1}',
    "owner-override": b'{"userId": "bob", "user_id": "bob", "_id": "000000000000000000000000"}',
    "duplicate-keys": b'{"score": 50, "score": {"$gt": 0}}',
    "proto-pollution": b'{"__proto__": {"admin": true}, "constructor": {"prototype": {}}}',
    "times-beyond-the-calendar": b'{"role": "user", "content": "x", "status": "completed", '
    b'"timestamp": "9999-12-31T23:59:59-01:00", "endTime": "0001-01-01T00:00:00+01:00"}',
}
HOSTILE_IDS = {
    "path-traversal": "..%2F..%2Fetc%2Fpasswd",
    "dot-dot": "..",
    "operator-object": "%7B%22%24ne%22%3Anull%7D",
    "operator-name": "%24ne",
    "brackets": "%5B%24ne%5D",
    "nul": "%00",
    "lone-surrogate": "%ED%A0%80",
    "invalid-utf8": "%FF%FE",
    "quote-injection": "%27%20or%20%271%27%3D%271",
    "huge": "x" * 5000,
    "huge-number": "9" * 400,
    "negative": "-1",
    "absent": ABSENT_ID,
}
HOSTILE_QUERY_NAMES = [
    "status[$ne]=x",
    "interviewId[$ne]=x",
    "sessionId[$gt]=",
    "userId=bob",
    "%24where=sleep(1000)",
    "limit[$gt]=0",
    "__proto__[admin]=1",
]
HOSTILE_QUERY_VALUES = [
    "%7B%22%24ne%22%3Anull%7D",
    "%24ne",
    "%00",
    "%ED%A0%80",
    "%FF",
    "..%2F..",
    "1e400",
    "-1",
    "9" * 400,
    "x" * 5000,
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00%2B01:00",
]
# Creates sent before each case, so there is stored data to protect and an owned id to aim at.
SEED_REQUESTS = [
    (
        "/api/sessions",
        {
            "config": {
                "role": "Backend Engineer",
                "interviewType": "technical",
                "difficulty": "mid",
                "interactionMode": "text",
            },
            "resume": {"fileName": "cv.txt", "content": "Ten years of Python."},
        },
    ),
    (
        "/api/interviews",
        {
            "jobTitle": "Backend Engineer",
            "companyName": "Acme",
            "interviewType": "technical",
            "experienceLevel": "mid",
        },
    ),
]

ROUTES_APP = offline_app("hostile-routes")
SPEC = ROUTES_APP.test_client().get("/api/openapi.json").get_json()


def served_routes():
    """(method, rule) of every route the app serves, documentation routes excepted."""
    for rule in ROUTES_APP.url_map.iter_rules():
        if rule.endpoint.startswith("api-docs") or rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


def write_cases():
    """Every write route, plus a POST to every read-only route (a hostile body to a 405)."""
    by_rule = {}
    for method, rule in served_routes():
        by_rule.setdefault(rule, set()).add(method)
    for rule, methods in sorted(by_rule.items()):
        for method in sorted(methods & WRITE_METHODS or {"POST"}):
            yield pytest.param(method, rule, id=f"{method} {rule}")


def read_cases():
    """Every GET route."""
    for method, rule in sorted(served_routes()):
        if method == "GET":
            yield pytest.param(rule, id=f"GET {rule}")


def fill(rule, value):
    """`rule` with every path argument replaced by `value`."""
    return PATH_ARGUMENT.sub(value, rule)


def query_parameters(rule, method):
    """Names of the query parameters the OpenAPI document declares for this operation."""
    operation = SPEC["paths"].get(PATH_ARGUMENT.sub(r"{\1}", rule), {}).get(method.lower(), {})
    return [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]


# Caches a read may fill (the stats answers): derived from the data, not data.
CACHES = {"stats_cache"}


def snapshot():
    """Every document of every collection but the caches, in _id order."""
    database = db.database()
    return {
        name: list(database[name].find().sort("_id", 1))
        for name in sorted(database.list_collection_names())
        if not name.startswith("system.") and name not in CACHES
    }


def seed(client, headers):
    """Store one resource through each create route; their ids by path argument."""
    answers = {}
    for path, body in SEED_REQUESTS:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), (path, response.get_json())
        answers[path] = response.get_json()
    return {
        "session_id": answers["/api/sessions"]["sessionId"],
        "interview_id": answers["/api/interviews"]["interview"]["id"],
    }


def fill_owned(rule, ids):
    """`rule` with each path argument replaced by the caller's own resource, None if one lacks."""
    names = PATH_ARGUMENT.findall(rule)
    if not names or any(name not in ids for name in names):
        return None
    return PATH_ARGUMENT.sub(lambda match: ids[match.group(1)], rule)


def problems_with(response, require_4xx):
    """What is wrong with `response` (an empty list when it is a proper answer)."""
    problems = []
    if response.status_code >= 500:
        problems.append(f"server error {response.status_code}")
    if require_4xx and not 400 <= response.status_code < 500:
        problems.append(f"expected 4xx, got {response.status_code}")
    if response.status_code >= 400:
        body = response.get_json(silent=True)
        if not isinstance(body, dict) or not ERROR_KEYS <= set(body):
            problems.append(f"not the error shape: {response.get_data()[:200]!r}")
        elif body["success"] is not False or body["code"] != response.status_code:
            problems.append(f"inconsistent error body: {body}")
    return problems


def send_all(client, requests, require_4xx):
    """Send each (label, kwargs) request; return the problems found, database changes included."""
    problems = []
    for label, kwargs in requests:
        before = snapshot()
        response = client.open(**kwargs)
        found = problems_with(response, require_4xx)
        response.get_data()  # drain and close streamed answers (CSV) inside this request
        response.close()
        if snapshot() != before:
            found.append("the database changed")
        problems.extend(f"{label}: {problem}" for problem in found)
    return problems


@pytest.mark.parametrize("method, rule", list(write_cases()))
def test_hostile_writes_answer_4xx_and_store_nothing(client, alice, bob, method, rule):
    owned = fill_owned(rule, seed(client, alice))
    seed(client, bob)
    json_headers = {**alice, "Content-Type": "application/json"}
    # To an absent resource, and to the caller's own one (where the body is read, not a 404).
    paths = [fill(rule, ABSENT_ID)] + ([owned] if owned else [])
    requests = [
        (f"body {name} to {path}", {"method": method, "path": path, "data": body})
        for name, body in HOSTILE_BODIES.items()
        for path in paths
    ]
    requests = [(label, {**kwargs, "headers": json_headers}) for label, kwargs in requests]
    requests += [
        (
            "form-encoded operator",
            {
                "method": method,
                "path": fill(rule, ABSENT_ID),
                "data": "interviewId[$ne]=x",
                "headers": {**alice, "Content-Type": "application/x-www-form-urlencoded"},
            },
        ),
        (
            "json as text/plain",
            {
                "method": method,
                "path": fill(rule, ABSENT_ID),
                "data": '{"score": 50}',
                "headers": {**alice, "Content-Type": "text/plain"},
            },
        ),
    ]
    if PATH_ARGUMENT.search(rule):
        requests += [
            (f"id {name}", {"method": method, "path": fill(rule, value), "headers": alice})
            for name, value in HOSTILE_IDS.items()
        ]
    if method == "DELETE":
        requests += [
            (f"query {query}", {"method": method, "path": f"{rule}?{query}", "headers": alice})
            for query in HOSTILE_QUERY_NAMES
            if not PATH_ARGUMENT.search(rule)
        ]
    assert send_all(client, requests, require_4xx=True) == []


@pytest.mark.parametrize("rule", list(read_cases()))
def test_hostile_reads_never_fail_or_write(client, alice, bob, rule):
    seed(client, alice)
    seed(client, bob)
    has_id = bool(PATH_ARGUMENT.search(rule))
    path = fill(rule, ABSENT_ID)
    # Unknown parameters are a 422 wherever the route reads its query (the strict parser).
    names_rejected = has_id or bool(query_parameters(rule, "GET"))
    requests = [
        (f"query {query}", {"path": f"{path}?{query}", "headers": alice})
        for query in HOSTILE_QUERY_NAMES
    ]
    problems = send_all(client, requests, require_4xx=names_rejected)
    values = [
        (f"{name}={value}", {"path": f"{path}?{name}={value}", "headers": alice})
        for name in query_parameters(rule, "GET")
        for value in HOSTILE_QUERY_VALUES
    ]
    # Free-text filters may legitimately accept odd text: no 5xx, no write, proper errors.
    problems += send_all(client, values, require_4xx=has_id)
    if has_id:
        ids = [
            (f"id {name}", {"path": fill(rule, value), "headers": alice})
            for name, value in HOSTILE_IDS.items()
        ]
        problems += send_all(client, ids, require_4xx=True)
    assert problems == []
