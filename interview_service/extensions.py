"""The API layer objects, created once here and bound to the app in create_app()."""

import functools
import logging
import math
import re

import flask_smorest
import marshmallow as ma
import pymongo.errors
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from bson import ObjectId
from flask import current_app, jsonify, request
from flask_cors import CORS
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.exceptions import (
    ClientDisconnected,
    HTTPException,
    InternalServerError,
    RequestTimeout,
)
from werkzeug.routing import BaseConverter

from interview_service import openapi
from interview_service.auth import token_auth
from interview_service.errors import ServiceError, Unauthorized, error_body, www_authenticate
from interview_service.observability import record_database_unavailable
from interview_service.schemas import OBJECT_ID_PATTERN, ErrorSchema

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
LOCATIONS = {"json", "query", "headers", "view_args"}
# Errors that mean "the database is unreachable or too slow", not "the query is wrong".
DATABASE_UNAVAILABLE = (
    pymongo.errors.ConnectionFailure,  # includes AutoReconnect, NetworkTimeout, ServerSelection
    pymongo.errors.ExecutionTimeout,
    pymongo.errors.WTimeoutError,
)


class ArgumentsParser(FlaskParser):
    """webargs parser that rejects unknown query parameters and reads JSON through Flask."""

    # Unknown query parameters are a client bug (a typo in a filter): answer 422, not ignore.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE}

    def _raw_load_json(self, req):
        # Flask's JSON provider (see create_app) owns the hardening: depth, huge numbers,
        # lone surrogates all become a 400 there, in one place.
        if not is_json_request(req):
            return ma.missing
        return req.get_json()

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        """422 with the field messages; webargs nests them by location, and one location at a
        time is parsed, so the location level is dropped."""
        messages = error.messages
        if isinstance(messages, dict) and len(messages) == 1 and set(messages) <= LOCATIONS:
            messages = next(iter(messages.values()))
        abort(
            error_status_code or self.DEFAULT_VALIDATION_STATUS,
            exc=error,
            messages=messages,
            schema=schema,
            headers=error_headers,
        )


class ObjectIdConverter(BaseConverter):
    """`<objectid:name>`: a document id in the path, given to the view as an ObjectId.

    A segment that is no id reaches the view as it came, so the token is checked first and the
    lookup answers its resource's own 404 (as for an id nobody has). `besides` names a sibling
    route's segment (`reports/generate`) this rule must leave alone, or its methods would be
    offered there too (Allow, 404 instead of 405).
    """

    def __init__(self, url_map, besides=None):
        super().__init__(url_map)
        if besides:
            self.regex = rf"(?!{re.escape(besides)}$)[^/]+"

    def to_python(self, value):
        return ObjectId(value) if ObjectId.is_valid(value) else value


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint using the strict arguments parser, whose routes need a bearer
    token (`auth=False`: public; `anonymous_when`: the setting that lets callers without one in).

    The token is checked around the whole view, so a 401 comes before any input is read.
    """

    ARGUMENTS_PARSER = ArgumentsParser()
    SECURITY = [{"bearerAuth": []}]

    def __init__(self, *args, auth=True, anonymous_when=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.auth = auth
        self.anonymous_when = anonymous_when

    def arguments(self, schema, *, location="json", **kwargs):
        """flask-smorest's `arguments`, remembering on the view where it reads ("json", …)."""
        parse = super().arguments(schema, location=location, **kwargs)

        def decorator(function):
            view = parse(function)
            view.argument_locations = getattr(function, "argument_locations", set()) | {location}
            return view

        return decorator

    @staticmethod
    def token_required(function):
        """Mark a method that needs a token even where the blueprint lets anonymous callers in."""
        function.token_required = True
        return function

    def route(self, rule, **options):
        """Register a MethodView, authenticated and documented as such when the blueprint is."""
        register = super().route(rule, **options)

        def decorator(view):
            if self.auth:
                anonymous = set()
                for method in view.methods:
                    function = getattr(view, method.lower())
                    if self.anonymous_when and not getattr(function, "token_required", False):
                        anonymous.add(method)
                    setattr(view, method.lower(), self._documented(function, method in anonymous))
                view.decorators = [*view.decorators, self._authenticated(anonymous)]
            return register(view)

        return decorator

    def _documented(self, function, anonymous):
        """The operation documents its security and its 401."""
        security = self.SECURITY + ([{}] if anonymous else [])
        function = self.alt_response(401, response="UNAUTHORIZED")(function)
        return self.doc(security=security)(function)

    def _authenticated(self, anonymous_methods):
        """A decorator putting a view behind the bearer token, optional for `anonymous_methods`
        while the blueprint's anonymous setting is on."""

        def decorator(view):
            required = token_auth.login_required(view)
            optional = token_auth.login_required(optional=True)(view)

            @functools.wraps(view)
            def wrapper(*args, **kwargs):
                anonymous = (
                    request.method in anonymous_methods and current_app.config[self.anonymous_when]
                )
                return (optional if anonymous else required)(*args, **kwargs)

            return wrapper

        return decorator


class Api(flask_smorest.Api):
    """flask-smorest Api whose handlers answer every failure in the SPA's one error shape."""

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_converter(
            ObjectIdConverter, lambda converter: {"type": "string", "pattern": OBJECT_ID_PATTERN}
        )

    def _init_spec(self, **kwargs):
        super()._init_spec(**kwargs)
        # flask-smorest builds a plain APISpec; this one finishes the document as it is built
        # (for /api/openapi.json and `flask openapi write` alike).
        self.spec.__class__ = FinishedSpec

    def init_app(self, app, *args, **kwargs):
        """Bind the API, its path converter and its offline Swagger UI assets, then the handlers
        of domain, body, driver and unexpected errors."""
        app.url_map.converters["objectid"] = ObjectIdConverter
        super().init_app(app, *args, **kwargs)
        app.register_blueprint(openapi.swagger_ui_assets())
        app.register_error_handler(ServiceError, self.handle_service_error)
        app.register_error_handler(ClientDisconnected, self.handle_incomplete_body)
        app.register_error_handler(pymongo.errors.PyMongoError, self.handle_pymongo_error)
        app.register_error_handler(Exception, self.handle_unexpected_error)

    @staticmethod
    def respond(code, message, errors=None, type=None, headers=None):
        """The one error answer: the body of `error_body`, the status, the headers."""
        response = jsonify(error_body(code, message, errors, type))
        response.status_code = code
        response.headers.update(headers or {})
        return response

    def handle_http_exception(self, error):
        """Answer any HTTPException (abort, 404, 405, 413, webargs 422...) as JSON."""
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        message = data.get("message") or (
            "Invalid request" if errors else (error.description or error.name)
        )
        if error.code == 422 and errors and "message" not in data:
            message = "Validation failed"
        headers = dict(error.get_headers()) if error.code in (401, 405, 429, 503) else {}
        headers.update(data.get("headers") or {})
        headers.pop("Content-Type", None)
        return self.respond(error.code, message, errors, getattr(error, "type", None), headers)

    def handle_service_error(self, error):
        """Map a domain error to its JSON answer."""
        headers = {}
        if isinstance(error, Unauthorized):
            headers["WWW-Authenticate"] = www_authenticate(error)
        if error.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
        return self.respond(error.status, error.message, error.errors, error.type, headers)

    def handle_incomplete_body(self, error):
        """The body stopped short (the client went away, or gunicorn's body deadline passed)."""
        return self.handle_http_exception(RequestTimeout("Request body not received in time"))

    def handle_pymongo_error(self, error):
        """Unavailable database → 503 with Retry-After (never a hanging worker); else a bug."""
        timed_out = isinstance(error, pymongo.errors.PyMongoError) and error.timeout
        if not (isinstance(error, DATABASE_UNAVAILABLE) or timed_out):
            return self.handle_unexpected_error(error)
        log.warning("database unavailable: %s", error.__class__.__name__)
        record_database_unavailable()
        return self.respond(
            503,
            "Database unavailable, try again shortly",
            type="database_unavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    def handle_unexpected_error(self, error):
        """A bug: log the traceback, answer a bare 500 without it (HTTP errors as themselves)."""
        if not isinstance(error, HTTPException):
            log.exception("unhandled error")
            error = InternalServerError()
        return self.handle_http_exception(error)


class FinishedSpec(APISpec):
    """An APISpec whose document is completed by `openapi.finish`."""

    def to_dict(self):
        return openapi.finish(super().to_dict())


api = Api(
    spec_kwargs={
        "marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=openapi.resolve_schema_name),
        "extra_plugins": [openapi.DocumentPlugin()],
    }
)
cors = CORS()
