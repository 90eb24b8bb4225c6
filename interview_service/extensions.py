"""The API layer objects, created once here and bound to the app in create_app()."""

import functools

import flask_smorest
import marshmallow as ma
from flask import current_app, request
from flask_cors import CORS
from webargs.flaskparser import FlaskParser, is_json_request

from interview_service.auth import token_auth
from interview_service.errors import ApiErrorHandlerMixin
from interview_service.schemas import ErrorSchema


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


class Api(ApiErrorHandlerMixin, flask_smorest.Api):
    """flask-smorest Api whose error answers carry the envelope of the SPA."""

    ERROR_SCHEMA = ErrorSchema


api = Api()
cors = CORS()
