"""The OpenAPI document, made generator-grade in one place: operation ids, the errors
each route can answer, examples, required response fields, enums, units and offline Swagger UI.

Blueprints keep documenting themselves with flask-smorest's decorators; this module completes
each operation from tables keyed by endpoint or operationId (`DocumentPlugin`) and finishes the
whole document when it is built (`finish`). tests/api/test_openapi.py fails for any operation
these tables do not cover, so a new route is completed here.
"""

import copy
import functools
import importlib.metadata

import flask
import swagger_ui_bundle
from apispec import BasePlugin

from interview_service import errors
from interview_service.openapi_examples import EXAMPLES, PATH_EXAMPLES

PACKAGE = "interview-service"
DESCRIPTION = (
    "Backend of an AI mock-interview practice app: interview sessions run by the agent "
    "(configuration, transcript, reports) and the candidate's performance history with its "
    "analytics.\n\n"
    "Every JSON answer carries `success` (true on 2xx, false on errors). Errors share one "
    "shape (`ApiError`) with a machine-readable `type` to branch on. Answers under /api carry "
    "`Cache-Control: no-store`; a 201 carries `Location`. Send `Authorization: Bearer <JWT>`; "
    "sessions (and their feedback) may also be used without a token where the server allows "
    "anonymous sessions. Times are ISO 8601 UTC with a `Z`; "
    "`duration` and other `…Duration`/`…ResponseTime` figures are milliseconds, `timeSpent` "
    "figures are minutes."
)

# (endpoint, method) → operationId. Endpoints are "<blueprint>.<view class>".
OPERATION_IDS = {
    ("ops.Health", "get"): "getHealth",
    ("ops.Ready", "get"): "getReadiness",
    ("ops.Metrics", "get"): "getMetrics",
    ("sessions.Sessions", "get"): "listSessions",
    ("sessions.Sessions", "post"): "createSession",
    ("sessions.SessionItem", "get"): "getSession",
    ("sessions.SessionItem", "delete"): "deleteSession",
    ("sessions.Messages", "get"): "listMessages",
    ("sessions.Messages", "post"): "appendMessages",
    ("sessions.SessionEnd", "put"): "endSession",
    ("sessions.Reports", "get"): "listReports",
    ("sessions.Reports", "post"): "createReport",
    ("sessions.LatestReport", "get"): "getLatestReport",
    ("sessions.ReportItem", "get"): "getReport",
    ("feedback.FeedbackGenerate", "post"): "generateFeedback",
    ("feedback.ReportGenerate", "post"): "generateReport",
    ("performance.Interviews", "get"): "listInterviews",
    ("performance.Interviews", "post"): "createInterview",
    ("performance.InterviewItem", "get"): "getInterview",
    ("performance.InterviewItem", "patch"): "startInterview",
    ("performance.InterviewItem", "delete"): "deleteInterview",
    ("performance.InterviewPerformance", "put"): "putInterviewPerformance",
    ("performance.UserInterviews", "get"): "getUserInterviews",
    ("performance.LegacyDeleteInterview", "delete"): "deleteInterviewLegacy",
    ("performance.LegacySavePerformance", "post"): "savePerformance",
    ("performance.Performances", "get"): "listPerformances",
    ("performance.PerformanceExport", "get"): "exportPerformancesCsv",
    ("performance.PerformanceItem", "get"): "getPerformance",
    ("performance.PerformanceStats", "get"): "getPerformanceStats",
    ("account.Me", "delete"): "deleteAccount",
    ("account.MeExport", "get"): "exportAccount",
}

# The security an operation can document (the auth-aware Blueprint declares which).
BEARER = [{"bearerAuth": []}]
OPTIONAL_BEARER = [{"bearerAuth": []}, {}]

# Errors a route answers beyond those its kind implies (see `error_statuses`) and those it
# declares itself (`blp.alt_response`: the generate routes' 409, 502...).
EXTRA_ERRORS = {
    "getMetrics": {404},
    "createSession": {409},
    "deleteInterviewLegacy": {404},
    "savePerformance": {404},
}


def header(description, type_="string"):
    """An OpenAPI response header."""
    return {"description": description, "schema": {"type": type_}}


RETRY_AFTER = {"Retry-After": header("Seconds to wait before retrying", "integer")}
# status → (component name, description, headers). Named so no generated type shadows another.
ERROR_RESPONSES = {
    400: (
        "MalformedRequest",
        "The body is not valid JSON (type `malformed_json`), or the route takes no body",
        {},
    ),
    401: (
        "Unauthenticated",
        "No bearer token where one is required (type `missing_token`), or a token that does not "
        "verify (`invalid_token`, `token_expired`)",
        {
            "WWW-Authenticate": header(
                'RFC 6750: `Bearer realm="interview-service"` without a token; '
                'with `error="invalid_token"` and an `error_description` after a bad one'
            )
        },
    ),
    404: ("NotFound", "Unknown, or not the caller's (ids leak nothing)", {}),
    408: ("RequestTimeout", "The body stopped short or came too slowly", {}),
    409: (
        "Conflict",
        "The request conflicts with the resource's current state",
        {
            "Retry-After": header(
                "Seconds to wait, when the conflict passes by itself (a report being generated)",
                "integer",
            )
        },
    ),
    413: ("PayloadTooLarge", "The body is larger than MAX_CONTENT_LENGTH", {}),
    415: ("UnsupportedMediaType", "The body is not JSON (Content-Type: application/json)", {}),
    422: ("ValidationFailed", "Invalid fields: `errors` maps each field to its messages", {}),
    429: ("RateLimited", "Too many requests: wait `Retry-After` seconds", RETRY_AFTER),
    502: ("UpstreamFailed", "The report generator's answer stayed unusable", {}),
    503: (
        "ServiceUnavailable",
        "The database, or the report generator, is unavailable or not configured: retry after "
        "`Retry-After` seconds",
        RETRY_AFTER,
    ),
}
# status → (message, type) of each shared error's example, as the service answers them.
ERROR_EXAMPLES = {
    400: ("Request body is not valid JSON: Expecting value (line 1, column 1)", "malformed_json"),
    401: ("Missing bearer token", "missing_token"),
    404: ("Session not found", "not_found"),
    408: ("Request body not received in time", "request_timeout"),
    409: ("Session is completed: no more messages can be added", "session_not_in_progress"),
    413: ("Request body is larger than 1048576 bytes", "body_too_large"),
    415: ("Request body must be JSON (Content-Type: application/json)", "unsupported_media_type"),
    422: ("Validation failed", "validation_failed"),
    429: ("Rate limit exceeded", "rate_limited"),
    502: ("The feedback provider's answer could not be read", "bad_gateway"),
    503: ("Database unavailable, try again shortly", "database_unavailable"),
}
LOCATION = {
    "description": "Where the created (or queued) resource is read",
    "required": True,
    "schema": {"type": "string"},
}

# Component names flask-smorest would derive from class names, where they would shadow a global
# type of TypeScript's libraries (DOM included) in generated clients.
SCHEMA_NAMES = {
    "ErrorSchema": "ApiError",
    "ResponseSchema": "Success",
    "PerformanceSchema": "PerformanceResult",
    "ReportSchema": "SessionReport",
    "ReportListSchema": "SessionReportList",
}

# Response fields that may be absent from an answer; every other response field is required.
OPTIONAL_RESPONSE_FIELDS = {
    "ApiError": {"errors"},
}


# Enums of response fields (request fields get theirs from their validators).
@functools.cache
def response_enums():
    """{(schema, field): values}; read when the document is built, as the blueprints' models
    import the API layer that imports this module."""
    from interview_service.performance import models as performance_models
    from interview_service.sessions import models as session_models

    status = {"status": session_models.STATUSES}
    job = {
        "interviewType": performance_models.INTERVIEW_TYPES,
        "experienceLevel": performance_models.EXPERIENCE_LEVELS,
    }
    interview = {"status": performance_models.INTERVIEW_STATUSES, **job}
    by_schema = {
        "Session": status,
        "SessionSummary": status,
        "Message": {"role": session_models.ROLES},
        "SessionReport": {"reportType": session_models.REPORT_TYPES},
        "MessagePage": {"sessionStatus": session_models.STATUSES},
        "Interview": interview,
        "LegacyInterview": interview,
        "PerformanceResult": job,
        "LegacyPerformance": job,
        "TrendPoint": {"interviewType": performance_models.INTERVIEW_TYPES},
        "Trend": {"direction": ("improving", "declining", "steady")},
    }
    return {
        (schema, field): values
        for schema, enums in by_schema.items()
        for field, values in enums.items()
    }


# Units and meanings, given to every property or query parameter of that name lacking one.
DESCRIPTIONS = {
    "duration": "Session length in milliseconds (endTime − startTime); null until it ends",
    "totalDuration": "Milliseconds from the first to the last message",
    "averageResponseTime": "Mean milliseconds from an assistant question to the next answer",
    "speakingDuration": "Milliseconds the speaker spoke",
    "timeSpent": "Minutes",
    "totalTimeSpent": "Minutes, summed",
    "averageTimeSpent": "Minutes, averaged",
    "minutesPerQuestion": "Minutes per question",
    "nextCursor": "Pass as `cursor` to get the next page; null on the last page",
    "cursor": (
        "Opaque position: the `nextCursor` of the previous page, sent with the same filters "
        "(omit it for the first page). Do not build or parse it."
    ),
    "after": (
        "Transcript only: messages with a messageIndex greater than this, i.e. what came after "
        "the last message the client holds. A plain number the client knows, unlike `cursor`; "
        "page on through a long answer with `cursor` (keeping `after`)."
    ),
    "limit": "Page size",
}

# Answers that are not JSON and carry no schema for flask-smorest to describe.
TEXT_ANSWERS = {
    "exportPerformancesCsv": {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "headers": {"Content-Disposition": header('attachment; filename="performances.csv"')},
    },
}

APPEND_DESCRIPTION = "One message, or `messages`: a batch of up to 100 appended in order."
SECURITY_SCHEMES = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
ASSETS_URL = "/api/docs/assets/"
SUCCESS_STATUSES = ("200", "201", "202", "204")


def version():
    """The installed package's version."""
    return importlib.metadata.version(PACKAGE)


def schema_name(schema):
    """Component name of a marshmallow schema: its class name without `Schema`, or a rename."""
    name = (schema if isinstance(schema, type) else schema.__class__).__name__
    return SCHEMA_NAMES.get(name, name.removesuffix("Schema"))


def resolve_schema_name(schema):
    """apispec's name resolver: nested schemas get components too (with modifiers, inline)."""
    if not isinstance(schema, type) and (schema.only or schema.exclude or schema.partial):
        return None
    return schema_name(schema)


def error_statuses(operation_id, method, operation, security, has_path_arguments):
    """The error statuses an operation can answer, from what it is and what it takes."""
    statuses = set(EXTRA_ERRORS.get(operation_id, ()))
    if security:
        statuses |= {401, 429, 503}
    if has_path_arguments:
        statuses.add(404)
    if "requestBody" in operation or method in ("post", "put", "patch"):
        statuses |= {400, 408, 413, 415, 422}
    if any(p.get("in") in ("query", "header") for p in operation.get("parameters", [])):
        statuses.add(422)
    return statuses


class DocumentPlugin(BasePlugin):
    """apispec plugin completing each operation: id, security, errors and examples."""

    def init_spec(self, spec):
        """Register the shared error responses."""
        for status, (name, description, headers) in ERROR_RESPONSES.items():
            message, type_ = ERROR_EXAMPLES[status]
            details = {"content": ["Missing data for required field."]} if status == 422 else None
            body = errors.error_body(status, message, details, type_)
            response = {
                "description": description,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ApiError"},
                        "example": body,
                    }
                },
            }
            if headers:
                response["headers"] = headers
            spec.components.response(name, response)

    def operation_helper(self, path=None, operations=None, rule=None, **kwargs):
        """Complete every operation of `rule` from the tables."""
        if rule is None:
            return
        for method, operation in operations.items():
            operation_id = OPERATION_IDS.get((rule.endpoint, method))
            if operation_id is None:
                continue  # tests/api/test_openapi.py names the operation that lacks one
            operation["operationId"] = operation_id
            # As the Blueprint that authenticates the operation documented it; none: public.
            security = operation.setdefault("security", [])
            _document_errors(operation, operation_id, method, security, bool(rule.arguments))
            _add_examples(operation, EXAMPLES.get(operation_id, {}))


def _document_errors(operation, operation_id, method, security, has_path_arguments):
    """Replace flask-smorest's generic error entries with the shared responses that apply, the
    route's own descriptions of them kept in the operation's description."""
    responses = operation.setdefault("responses", {})
    statuses = error_statuses(operation_id, method, operation, security, has_path_arguments)
    notes = []
    for status in list(responses):
        if str(status) == "default" or (str(status)[0] in "45"):
            entry = responses.pop(status)
            if str(status) != "default":
                statuses.add(int(status))
            if isinstance(entry, dict) and entry.get("description"):
                notes.append(f"{status}: {entry['description']}.")
    if notes:
        notes.sort()
        operation["description"] = " ".join([operation.get("description", ""), *notes]).strip()
    for status in sorted(statuses):
        responses[str(status)] = ERROR_RESPONSES[status][0]


def _add_examples(operation, examples):
    """Put the operation's request and parameter examples where Swagger UI reads them."""
    if "request" in examples:
        content = operation.get("requestBody", {}).get("content", {})
        for media in content.values():
            media["example"] = examples["request"]
    for parameter in operation.get("parameters", []):
        if parameter.get("in") in ("query", "header"):
            if parameter["name"] in examples.get("parameters", {}):
                parameter["example"] = examples["parameters"][parameter["name"]]


# --- the whole document -----------------------------------------------------------------------


def finish(document):
    """Return a copy of the built document with what only the whole document can give."""
    document = copy.deepcopy(document)
    document["info"] = {
        "title": document["info"]["title"],
        "version": version(),
        "description": DESCRIPTION,
        "license": {"name": "Proprietary"},
    }
    document["servers"] = [{"url": "/", "description": "This server"}]
    document.pop("security", None)
    components = document.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    _append_as_one_of(schemas)
    _split_shared_schemas(document)
    requests = _request_schemas(document)
    for name, schema in schemas.items():
        _complete_schema(name, schema, responses_only=name not in requests)
    for item in document["paths"].values():
        for parameter in item.get("parameters", []):
            _describe(parameter)
            if parameter["name"] in PATH_EXAMPLES:
                parameter["example"] = PATH_EXAMPLES[parameter["name"]]
        for operation in _operations(item):
            for parameter in operation.get("parameters", []):
                _describe(parameter)
            _complete_answers(operation, EXAMPLES.get(operation.get("operationId"), {}))
    _null_only(document)
    _drop_unused_components(document)
    return document


def _complete_answers(operation, examples):
    """Give a non-JSON answer its media type, a created or queued one its `Location`, and every
    answer its example (answers get their content only when the document is built)."""
    responses = operation["responses"]
    success = next((status for status in responses if status in SUCCESS_STATUSES), None)
    if success and operation.get("operationId") in TEXT_ANSWERS:
        responses[success].update(copy.deepcopy(TEXT_ANSWERS[operation["operationId"]]))
    for status in ("201", "202"):
        if status in responses:
            headers = responses[status].setdefault("headers", {})
            headers["Location"] = {**LOCATION, **headers.get("Location", {})}
    for status, body in examples.get("responses", {}).items():
        response = operation["responses"].get(status, {})
        for media in response.get("content", {}).values():
            media["example"] = body


def _operations(path_item):
    """The operation objects of a path item."""
    methods = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
    return [operation for method, operation in path_item.items() if method in methods]


def _describe(parameter):
    """Give a parameter the shared description of its name when it has none."""
    if "description" not in parameter and parameter["name"] in DESCRIPTIONS:
        parameter["description"] = DESCRIPTIONS[parameter["name"]]


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _refs(node):
    """Names of every component schema `node` refers to, directly."""
    prefix = "#/components/schemas/"
    return {ref.removeprefix(prefix) for ref in _all_refs(node) if ref.startswith(prefix)}


def _closure(names, schemas):
    """`names` and every schema they refer to, transitively."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo.extend(_refs(schemas[name]))
    return seen


def _request_schemas(document):
    """Schemas reachable from request bodies and parameters."""
    roots = set()
    for item in document["paths"].values():
        roots |= _refs(item.get("parameters", []))
        for operation in _operations(item):
            roots |= _refs(operation.get("requestBody", {}))
            roots |= _refs(operation.get("parameters", []))
    return _closure(roots, document["components"]["schemas"])


def _response_schemas(document):
    """Schemas reachable from answers (shared responses included)."""
    roots = _refs(document["components"].get("responses", {}))
    for item in document["paths"].values():
        for operation in _operations(item):
            roots |= _refs(operation.get("responses", {}))
    return _closure(roots, document["components"]["schemas"])


def _rewrite_refs(node, renames):
    """Point every $ref of `node` named in `renames` at its new name (in place)."""
    if isinstance(node, dict):
        reference = node.get("$ref", "")
        name = reference.rsplit("/", 1)[-1]
        if reference.startswith("#/components/schemas/") and name in renames:
            node["$ref"] = f"#/components/schemas/{renames[name]}"
        for value in node.values():
            _rewrite_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, renames)


def _split_shared_schemas(document):
    """A schema used both to send and to answer becomes two: `<Name>Input` for requests (fields
    optional as validated) and `<Name>` for answers (every field present)."""
    schemas = document["components"]["schemas"]
    shared = _request_schemas(document) & _response_schemas(document)
    renames = {name: f"{name}Input" for name in sorted(shared)}
    for name in renames:
        schemas[renames[name]] = copy.deepcopy(schemas[name])
    for name in _request_schemas(document) | set(renames.values()):
        if name not in shared:
            _rewrite_refs(schemas[name], renames)
    for item in document["paths"].values():
        _rewrite_refs(item.get("parameters", []), renames)
        for operation in _operations(item):
            _rewrite_refs(operation.get("requestBody", {}), renames)
            _rewrite_refs(operation.get("parameters", []), renames)


def _append_as_one_of(schemas):
    """The append body and answer as `oneOf` one message or a batch (marshmallow has one schema
    with a validator for each)."""
    body = schemas.get("ConversationAppend")
    if body and "messages" in body.get("properties", {}):
        schemas["MessageBatch"] = {
            "type": "object",
            "description": "A batch of messages, appended in order",
            "properties": {"messages": body["properties"]["messages"]},
            "required": ["messages"],
            "additionalProperties": False,
        }
        schemas["ConversationAppend"] = {
            "description": APPEND_DESCRIPTION,
            "oneOf": [_ref("MessageCreate"), _ref("MessageBatch")],
        }
    answer = schemas.get("ConversationAppended")
    if answer and "messageIndexes" in answer.get("properties", {}):
        properties = answer["properties"]
        single = ("success", "messageIndex", "conversation")
        batch = ("success", "messageIndexes", "conversations")
        schemas["MessageAppended"] = _object("One message appended", properties, single)
        schemas["MessagesAppended"] = _object("A batch appended, in order", properties, batch)
        schemas["ConversationAppended"] = {
            "description": "The stored message, or the stored batch",
            "oneOf": [_ref("MessageAppended"), _ref("MessagesAppended")],
        }


def _object(description, properties, names):
    return {
        "type": "object",
        "description": description,
        "properties": {name: properties[name] for name in names},
        "required": list(names),
    }


def _complete_schema(name, schema, responses_only):
    """Types for untyped write-only fields, units, enums and (answers only) `required`."""
    properties = schema.get("properties", {})
    for field, prop in properties.items():
        if prop.get("writeOnly") and "type" not in prop and "$ref" not in prop:
            prop.update(
                type="string",
                nullable=True,
                deprecated=True,
                description="Accepted for old clients and ignored",
            )
        if field in DESCRIPTIONS and "description" not in prop:
            prop["description"] = DESCRIPTIONS[field]
        if (name, field) in response_enums():
            values = list(response_enums()[(name, field)])
            prop["enum"] = values + [None] if prop.get("nullable") else values
    if responses_only and properties:
        optional = OPTIONAL_RESPONSE_FIELDS.get(name, set())
        required = [field for field in properties if field not in optional]
        if required:
            schema["required"] = required


# apispec writes a nullable nested schema (OpenAPI 3.0) as `anyOf` this and the reference; this
# matches any object, so generated clients type it `{} | T | null` and no field can be read.
APISPEC_NULLABLE = {"type": "object", "nullable": True}
NULL_ONLY = {**APISPEC_NULLABLE, "enum": [None]}


def _null_only(node):
    """Make each of apispec's nullable alternatives match null alone (the answer is `T | null`)."""
    if isinstance(node, dict):
        options = node.get("anyOf", [])
        if APISPEC_NULLABLE in options:
            node["anyOf"] = [o for o in options if o != APISPEC_NULLABLE] + [dict(NULL_ONLY)]
        for value in node.values():
            _null_only(value)
    elif isinstance(node, list):
        for value in node:
            _null_only(value)


def _drop_unused_components(document):
    """Keep only the components the paths use, directly or through another component."""
    components = document["components"]
    used, todo = set(), list(_all_refs(document["paths"]))
    while todo:
        reference = todo.pop()
        if reference in used:
            continue
        used.add(reference)
        _, _, kind, name = reference.split("/", 3)
        todo.extend(_all_refs(components.get(kind, {}).get(name)))
    for kind in ("schemas", "responses", "headers", "parameters", "examples"):
        for name in list(components.get(kind, {})):
            if f"#/components/{kind}/{name}" not in used:
                del components[kind][name]
        if kind in components and not components[kind]:
            del components[kind]


def _all_refs(node):
    """Every $ref string in `node`."""
    found = set()
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.add(node["$ref"])
        for value in node.values():
            found |= _all_refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _all_refs(value)
    return found


# --- Swagger UI, served from the pinned package ------------------------------------------------


def swagger_ui_assets():
    """A blueprint serving Swagger UI's files from the swagger-ui-bundle package."""
    return flask.Blueprint(
        "api-docs-assets",
        __name__,
        static_folder=str(swagger_ui_bundle.swagger_ui_path),
        static_url_path=ASSETS_URL.rstrip("/"),
    )
