"""Domain errors raised by services, and the one JSON error shape every failure answers with."""

import logging
import math
import re
from http import HTTPStatus

import pymongo.errors
from flask import current_app, jsonify
from werkzeug.exceptions import (
    ClientDisconnected,
    HTTPException,
    InternalServerError,
    RequestTimeout,
)

from interview_service.observability import record_database_unavailable

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class ServiceError(Exception):
    """A rule of the domain was broken; `status` tells the HTTP layer how to answer and
    `type` is the machine-readable reason clients branch on."""

    status = 400
    type = "bad_request"

    def __init__(self, message, errors=None, type=None, retry_after=None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.type = type or self.type
        # Seconds after which the same request may succeed (sent as Retry-After).
        self.retry_after = retry_after


class NotFound(ServiceError):
    """The resource does not exist or is not the caller's."""

    status = 404
    type = "not_found"


class Conflict(ServiceError):
    """The request conflicts with the resource's current state."""

    status = 409
    type = "conflict"


class Invalid(ServiceError):
    """The request is well-formed but its values break a rule."""

    status = 422
    type = "validation_failed"

    def __init__(self, message, field=None, errors=None, type=None):
        super().__init__(message, {field: [message]} if field else errors, type)


class Unauthorized(ServiceError):
    """A token that does not verify."""

    status = 401
    type = "invalid_token"


class MissingToken(Unauthorized):
    """No bearer token where one is required."""

    type = "missing_token"

    def __init__(self, message="Missing bearer token"):
        super().__init__(message)


class BadGateway(ServiceError):
    """A service this one depends on answered something unusable."""

    status = 502
    type = "bad_gateway"


class Unavailable(ServiceError):
    """A service this one depends on is missing, unreachable or refusing us for now."""

    status = 503
    type = "service_unavailable"


# The `type` of an error no domain rule names, by status; any other status gets its phrase
# in snake_case ("Method Not Allowed" → "method_not_allowed").
ERROR_TYPES = {
    401: "invalid_token",
    413: "body_too_large",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def error_type(code):
    """The machine-readable `type` of an HTTP error status."""
    if code in ERROR_TYPES:
        return ERROR_TYPES[code]
    return re.sub(r"[^a-z0-9]+", "_", HTTPStatus(code).phrase.lower()).strip("_")


def error_body(code, message, errors=None, type=None):
    """Build the error body the SPA reads: `success`, `error`, flask-smorest's keys and the
    machine-readable `type`."""
    body = {
        "success": False,
        "code": code,
        "status": HTTPStatus(code).phrase,
        "type": type or error_type(code),
        "message": message,
        "error": message,
    }
    if errors:
        body["errors"] = errors
    return body


class ApiErrorHandlerMixin:
    """Replaces flask-smorest's HTTP error handler so every status has the same envelope."""

    def handle_http_exception(self, error):
        """Answer any HTTPException (abort, 404, 405, 413, webargs 422...) as JSON."""
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        if isinstance(errors, dict) and set(errors) <= {"json", "query", "headers", "view_args"}:
            # webargs nests by location; one location at a time reaches us, so unwrap it.
            errors = next(iter(errors.values()), errors) if len(errors) == 1 else errors
        message = data.get("message") or (
            "Invalid request" if errors else (error.description or error.name)
        )
        if error.code == 422 and errors and "message" not in data:
            message = "Validation failed"
        response = jsonify(error_body(error.code, message, errors, getattr(error, "type", None)))
        response.status_code = error.code
        headers = dict(error.get_headers()) if error.code in (401, 405, 429, 503) else {}
        headers.update(data.get("headers") or {})
        headers.pop("Content-Type", None)
        response.headers.update(headers)
        return response


def handle_service_error(error):
    """Map a domain error to its JSON answer."""
    response = jsonify(error_body(error.status, error.message, error.errors, error.type))
    response.status_code = error.status
    if isinstance(error, Unauthorized):
        response.headers["WWW-Authenticate"] = www_authenticate(error)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return response


def www_authenticate(error):
    """RFC 6750: a bare challenge when no token came, `error="invalid_token"` when one failed."""
    challenge = 'Bearer realm="interview-service"'
    if isinstance(error, MissingToken):
        return challenge
    description = error.message.replace("\\", "").replace('"', "'")
    return f'{challenge}, error="invalid_token", error_description="{description}"'


def handle_incomplete_body(error):
    """The body stopped short (the client went away, or gunicorn's body deadline passed): 408."""
    return current_app.extensions["interview_service.api"].handle_http_exception(
        RequestTimeout("Request body not received in time")
    )


def handle_database_unavailable(error):
    """The database did not answer in time: 503 with Retry-After, never a hanging worker."""
    log.warning("database unavailable: %s", error.__class__.__name__)
    record_database_unavailable()
    response = jsonify(
        error_body(503, "Database unavailable, try again shortly", type="database_unavailable")
    )
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def handle_unexpected_error(error):
    """A bug: log the traceback, answer a bare 500 without it."""
    if isinstance(error, HTTPException):
        return current_app.extensions["interview_service.api"].handle_http_exception(error)
    log.exception("unhandled error")
    return current_app.extensions["interview_service.api"].handle_http_exception(
        InternalServerError()
    )


# Errors that mean "the database is unreachable or too slow", not "the query is wrong".
DATABASE_UNAVAILABLE = (
    pymongo.errors.ConnectionFailure,  # includes AutoReconnect, NetworkTimeout, ServerSelection
    pymongo.errors.ExecutionTimeout,
    pymongo.errors.WTimeoutError,
)


def is_database_unavailable(error):
    """True when `error` (or the error it wraps) means the database cannot be reached."""
    return isinstance(error, DATABASE_UNAVAILABLE) or (
        isinstance(error, pymongo.errors.PyMongoError) and error.timeout
    )


def handle_pymongo_error(error):
    """Unavailable database → 503; anything else from the driver is a bug → 500."""
    if is_database_unavailable(error):
        return handle_database_unavailable(error)
    return handle_unexpected_error(error)


def register_error_handlers(app, api):
    """Bind the handlers: domain errors, driver errors, and the catch-all."""
    app.extensions["interview_service.api"] = api
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(ClientDisconnected, handle_incomplete_body)
    app.register_error_handler(pymongo.errors.PyMongoError, handle_pymongo_error)
    app.register_error_handler(Exception, handle_unexpected_error)
