"""The API layer objects, created once here and bound to the app in create_app()."""

import flask_smorest
import marshmallow as ma
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask_cors import CORS
from webargs.flaskparser import FlaskParser, is_json_request

from interview_service import openapi
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

    def _init_spec(self, **kwargs):
        super()._init_spec(**kwargs)
        # flask-smorest builds a plain APISpec; this one finishes the document as it is built
        # (for /api/openapi.json and `flask openapi write` alike).
        self.spec.__class__ = FinishedSpec

    def init_app(self, app, **kwargs):
        super().init_app(app, **kwargs)
        app.register_blueprint(openapi.swagger_ui_assets())


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
