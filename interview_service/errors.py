"""Domain errors raised by services, and the one JSON error body every failure answers with."""

import re
from http import HTTPStatus


class ServiceError(Exception):
    """A rule of the domain was broken; `status` tells the HTTP layer how to answer and
    `type` is the machine-readable reason clients branch on. A subclass names both in its
    class line: `class NotFound(ServiceError, status=404, type="not_found")`."""

    status = 400
    type = "bad_request"

    def __init_subclass__(cls, status=None, type=None, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.status = status or cls.status
        cls.type = type or cls.type

    def __init__(self, message, errors=None, type=None, retry_after=None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.type = type or self.type
        # Seconds after which the same request may succeed (sent as Retry-After).
        self.retry_after = retry_after


class NotFound(ServiceError, status=404, type="not_found"):
    """The resource does not exist or is not the caller's."""


class Conflict(ServiceError, status=409, type="conflict"):
    """The request conflicts with the resource's current state."""


class Invalid(ServiceError, status=422, type="validation_failed"):
    """The request is well-formed but its values break a rule."""

    def __init__(self, message, field=None, errors=None, type=None):
        super().__init__(message, {field: [message]} if field else errors, type)


class Unauthorized(ServiceError, status=401, type="invalid_token"):
    """A token that does not verify."""


class MissingToken(Unauthorized, type="missing_token"):
    """No bearer token where one is required."""

    def __init__(self, message="Missing bearer token"):
        super().__init__(message)


class BadGateway(ServiceError, status=502, type="bad_gateway"):
    """A service this one depends on answered something unusable."""


class Unavailable(ServiceError, status=503, type="service_unavailable"):
    """A service this one depends on is missing, unreachable or refusing us for now."""


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


def www_authenticate(error):
    """RFC 6750: a bare challenge when no token came, `error="invalid_token"` when one failed."""
    challenge = 'Bearer realm="interview-service"'
    if isinstance(error, MissingToken):
        return challenge
    description = error.message.replace("\\", "").replace('"', "'")
    return f'{challenge}, error="invalid_token", error_description="{description}"'
