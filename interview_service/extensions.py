"""The API layer objects, created once here and bound to the app in create_app()."""

import flask_smorest
import marshmallow as ma
from flask_cors import CORS
from webargs.flaskparser import FlaskParser, is_json_request

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
    """flask-smorest Blueprint using the strict arguments parser."""

    ARGUMENTS_PARSER = ArgumentsParser()


class Api(ApiErrorHandlerMixin, flask_smorest.Api):
    """flask-smorest Api whose error answers carry the envelope of the SPA."""

    ERROR_SCHEMA = ErrorSchema


api = Api()
cors = CORS()
