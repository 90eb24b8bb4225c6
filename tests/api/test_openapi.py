"""The OpenAPI document is generator-grade: every operation has an id, security, the shared error
answers and examples; every example is accepted as it stands and answered as documented."""

import json
import re

import pytest
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from referencing import Registry, Resource

from interview_service import openapi
from interview_service.openapi_examples import (
    ANSWER,
    EXAMPLES,
    INTERVIEW_ID,
    PERFORMANCE_ID,
    QUESTION,
    REPORT_ID,
    SESSION_ID,
)
from tests.conftest import offline_app
from tests.fake_llm import FakeProvider, provider_settings

METHODS = ("get", "put", "post", "delete", "patch")
APP = offline_app("openapi-document")
SPEC = APP.test_client().get("/api/openapi.json").get_json()
SHARED_ERRORS = {
    str(status): f"#/components/responses/{name}"
    for status, (name, _, _) in openapi.ERROR_RESPONSES.items()
}


def operations():
    """(path, method, operation) of every documented operation."""
    for path, item in SPEC["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def operation_ids():
    return [f"{method.upper()} {path}" for path, method, _ in operations()]


CASES = pytest.mark.parametrize("path,method,operation", list(operations()), ids=operation_ids())


def check(schema, instance, validator=OAS30ReadValidator):
    """Errors of `instance` against a document schema (refs anchored in the document), read as
    an answer (readOnly fields such as `_id` required too) unless `validator` says otherwise."""
    text = json.dumps(schema).replace('"#/components', '"urn:spec#/components')
    registry = Registry().with_resource("urn:spec", Resource.opaque(_anchor_refs(SPEC)))
    return [
        error.message
        for error in validator(json.loads(text), registry=registry).iter_errors(instance)
    ]


def check_request(schema, instance):
    """Errors of `instance` against a document schema, sent as a request."""
    return check(schema, instance, OAS30WriteValidator)


def _anchor_refs(document):
    return json.loads(json.dumps(document).replace('"#/components', '"urn:spec#/components'))


def json_schema(node):
    """The application/json schema of a request body or response object, None without one."""
    return node.get("content", {}).get("application/json", {}).get("schema")


def success_responses(operation):
    return {
        status: response for status, response in operation["responses"].items() if status[0] == "2"
    }


@CASES
def test_operation_has_a_unique_id(path, method, operation):
    ids = [op["operationId"] for _, _, op in operations() if "operationId" in op]
    assert re.fullmatch(r"[a-z][A-Za-z0-9]+", operation.get("operationId", "")), (method, path)
    assert ids.count(operation["operationId"]) == 1


@CASES
def test_operation_declares_its_security(path, method, operation):
    assert operation.get("security") in ([], openapi.BEARER, openapi.OPTIONAL_BEARER)
    if path.startswith("/api/"):
        assert operation["security"], "API operations take a bearer token"


@CASES
def test_operation_documents_its_errors_with_the_shared_answers(path, method, operation):
    errors = {status: r for status, r in operation["responses"].items() if status[0] in "45"}
    assert "default" not in operation["responses"]
    if path.startswith("/api/"):
        assert {"401", "429", "503"} <= set(errors)
    if "{" in path:
        assert "404" in errors
    if "requestBody" in operation:
        assert {"400", "408", "413", "415", "422"} <= set(errors)
    for status, response in errors.items():
        assert response == {"$ref": SHARED_ERRORS[status]}


@CASES
def test_operation_has_examples_that_match_its_schemas(path, method, operation):
    if "requestBody" in operation:
        media = operation["requestBody"]["content"]["application/json"]
        assert "example" in media, "request example missing"
        assert check_request(media["schema"], media["example"]) == []
    for parameter in operation.get("parameters", []):
        if parameter.get("required"):
            assert "example" in parameter, f"example of parameter {parameter['name']} missing"
        if "example" in parameter:
            assert check_request(parameter["schema"], parameter["example"]) == []
    for status, response in success_responses(operation).items():
        for media_type, media in response.get("content", {}).items():
            assert "example" in media, f"{status} {media_type} example missing"
            if media_type == "application/json":
                assert check(media["schema"], media["example"]) == []


def test_shared_error_examples_match_the_error_schema():
    for name, response in SPEC["components"]["responses"].items():
        media = response["content"]["application/json"]
        assert check(media["schema"], media["example"]) == [], name
        assert media["example"]["success"] is False


def test_no_component_shadows_a_platform_type():
    names = {name for kind in SPEC["components"].values() for name in kind}
    assert not names & {"Error", "Response", "Request", "Headers", "Object", "Date", "Record"}


def test_document_has_servers_and_the_package_version():
    assert SPEC["servers"]
    assert SPEC["info"]["version"] == openapi.version()
    assert SPEC["info"]["description"]


def test_append_body_is_one_message_or_a_batch():
    body = SPEC["components"]["schemas"]["ConversationAppend"]
    assert [option["$ref"].rsplit("/", 1)[1] for option in body["oneOf"]] == [
        "MessageCreate",
        "MessageBatch",
    ]


def test_nullable_nested_answer_is_its_object_or_null():
    content = SPEC["components"]["schemas"]["SessionReport"]["properties"]["content"]
    assert check(content, None) == []
    assert check(content, {}) != []  # apispec's alternative alone accepted any object


def test_csv_export_is_documented_as_text_csv():
    operation = SPEC["paths"]["/api/performances/export.csv"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/csv"]


def test_every_component_is_used():
    text = json.dumps(SPEC["paths"]) + json.dumps(SPEC["components"])
    for kind, components in SPEC["components"].items():
        if kind == "securitySchemes":
            continue
        for name in components:
            assert f'"#/components/{kind}/{name}"' in text, name


# --- every example, sent as Swagger UI's "Try it out" sends it ---------------------------------


INTERVIEW = {
    "jobTitle": "Engineer",
    "companyName": "Acme",
    "interviewType": "technical",
    "experienceLevel": "mid",
}


# Generation reads a finished transcript: their examples' session is ended first.
ENDED_FIRST = {"generateFeedback", "generateReport"}


@pytest.fixture
def app_settings():
    """`app` with a fake provider on loopback as its report generator."""
    with FakeProvider() as fake:
        yield provider_settings(fake)


def start_session(client, headers, operation):
    """The examples' session for the caller of `headers`: a question, its answer and a report,
    ended when `operation` needs it; returns {example report id: the report's id}."""
    created = client.post(
        "/api/sessions", json=EXAMPLES["createSession"]["request"], headers=headers
    )
    assert created.status_code == 201
    url = f"/api/sessions/{SESSION_ID}"
    transcript = [
        {key: message[key] for key in ("role", "content", "metadata")}
        for message in (QUESTION, ANSWER)
    ]
    response = client.post(f"{url}/conversations", json={"messages": transcript}, headers=headers)
    assert response.status_code == 201
    report = {"reportType": "summary", "content": {"summary": "Good"}}
    response = client.post(f"{url}/reports", json=report, headers=headers)
    assert response.status_code == 201
    if operation["operationId"] in ENDED_FIRST:
        assert client.put(f"{url}/end", headers=headers).status_code == 200
    return {REPORT_ID: response.get_json()["report"]["id"]}


def owned(client, alice, operation):
    """Alice's session, a ready interview and a saved performance; {example id: real id}."""
    ids = start_session(client, alice, operation)
    ready, done = (
        client.post("/api/interviews", json=INTERVIEW, headers=alice).get_json()["interview"]["id"]
        for _ in range(2)
    )
    saved = client.put(f"/api/interviews/{done}/performance", json={"score": 70}, headers=alice)
    return {**ids, INTERVIEW_ID: ready, PERFORMANCE_ID: saved.get_json()["performanceId"]}


def substituted(value, ids):
    """`value` with each example id replaced by the fixture's own."""
    text = json.dumps(value)
    for example_id, real_id in ids.items():
        text = text.replace(example_id, real_id)
    return json.loads(text)


def send_example(client, path, method, operation, headers, ids):
    """Send the operation's examples as Swagger UI's "Try it out" does, with `ids` put in."""
    url = path
    for parameter in SPEC["paths"][path].get("parameters", []):
        url = url.replace("{" + parameter["name"] + "}", str(parameter["example"]))
    given = [p for p in operation.get("parameters", []) if "example" in p]
    query = {p["name"]: p["example"] for p in given if p["in"] == "query"}
    headers = {**{p["name"]: p["example"] for p in given if p["in"] == "header"}, **headers}
    kwargs = {"query_string": query, "headers": headers}
    if "requestBody" in operation:
        example = operation["requestBody"]["content"]["application/json"]["example"]
        kwargs["json"] = substituted(example, ids)
    return client.open(substituted(url, ids), method=method.upper(), **kwargs)


def answers_as_documented(response, operation):
    """True when `response` is one of the operation's documented successes, in its shape."""
    documented = success_responses(operation)
    assert str(response.status_code) in documented, response.get_data(as_text=True)[:500]
    answer = documented[str(response.status_code)]
    schema = json_schema(answer)
    if schema is not None:
        assert check(schema, response.get_json()) == []
    else:
        assert response.mimetype in answer.get("content", {response.mimetype: None})
    for name, header in answer.get("headers", {}).items():
        assert name in response.headers or not header.get("required"), f"{name} missing"
    return True


@CASES
def test_example_request_is_accepted_and_answered_as_documented(
    client, alice, path, method, operation
):
    headers = alice if operation["security"] else {}
    ids = owned(client, alice, operation)
    response = send_example(client, path, method, operation, headers, ids)
    assert answers_as_documented(response, operation)


ANONYMOUS = [
    (p, m, op) for p, m, op in operations() if op.get("security") == openapi.OPTIONAL_BEARER
]


@pytest.mark.parametrize(
    "path,method,operation", ANONYMOUS, ids=[f"{m.upper()} {p}" for p, m, _ in ANONYMOUS]
)
def test_operation_with_optional_auth_works_without_a_token(client, path, method, operation):
    ids = start_session(client, {}, operation)
    response = send_example(client, path, method, operation, {}, ids)
    assert answers_as_documented(response, operation)


PROTECTED = [(p, m, op) for p, m, op in operations() if op.get("security") == openapi.BEARER]


@pytest.mark.parametrize(
    "path,method,operation", PROTECTED, ids=[f"{m.upper()} {p}" for p, m, _ in PROTECTED]
)
def test_operation_needing_a_token_answers_401_without_one(client, path, method, operation):
    url = re.sub(r"{[^}]+}", "0123456789abcdef01234567", path)
    response = client.open(url, method=method.upper())
    assert response.status_code == 401
    assert (
        check(json_schema(SPEC["components"]["responses"]["Unauthenticated"]), response.get_json())
        == []
    )
