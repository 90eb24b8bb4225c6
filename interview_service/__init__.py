"""interview-service: the application factory."""

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix

from config import settings_for
from interview_service import db, errors, modules, observability, ratelimit
from interview_service.extensions import api, cors
from interview_service.jsonio import JSONRequest, StrictJSONProvider

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def create_app(env=None, **overrides):
    """Build the app for `env` (APP_ENV by default); `overrides` win over every setting."""
    app = Flask(__name__)
    register_config(app, env, overrides)
    register_logging(app)
    register_proxy_fix(app)
    register_observability(app)
    register_extensions(app)
    register_cache_policy(app)
    register_rate_limits(app)
    register_blueprints(app)
    register_request_guards(app)
    register_commands(app)
    register_indexes(app)
    return app


def register_config(app, env, overrides):
    """Load the settings class, apply overrides, refuse unsafe production settings."""
    settings = settings_for(env)
    settings.check()
    app.config.from_object(settings)
    app.config.update(overrides)
    app.request_class = JSONRequest
    app.json = StrictJSONProvider(app)
    app.json.sort_keys = False
    app.url_map.strict_slashes = False


def register_logging(app):
    """Log JSON lines to stderr at LOG_LEVEL."""
    observability.init_logging(app)


def register_proxy_fix(app):
    """Trust X-Forwarded-For/-Proto/-Host from PROXY_FIX_X_FOR proxies (nginx in production)."""
    hops = app.config["PROXY_FIX_X_FOR"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_observability(app):
    """Request ids, the JSON request log and metrics; first, so their hooks see every answer."""
    observability.init_app(app)


def register_extensions(app):
    """Bind the database, the API (OpenAPI, error format) and CORS."""
    db.init_app(app)
    api.init_app(app)
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
        expose_headers=[
            "Content-Disposition",  # the CSV and JSON exports' file names
            "Location",
            "X-Request-ID",
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ],
        supports_credentials=False,
        max_age=app.config["CORS_MAX_AGE"],
    )


def register_cache_policy(app):
    """Answers under /api hold a user's data: no browser or proxy may keep a copy."""

    @app.after_request
    def no_store(response):
        if request.path.startswith("/api/") and request.blueprint != "api-docs":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def register_rate_limits(app):
    """Per-user (or per-address) limits shared by every worker, when RATE_LIMIT_ENABLED."""
    ratelimit.init_app(app)


def register_blueprints(app):
    """Register every module's blueprint on the API (so each appears in the OpenAPI document)."""
    for blueprint in modules.blueprints():
        api.register_blueprint(blueprint)


def argument_locations(view, method):
    """Where the view (a MethodView's method, or a function) reads arguments: {"json", …}."""
    handler = getattr(getattr(view, "view_class", None), method.lower(), view)
    return getattr(handler, "argument_locations", set())


def register_request_guards(app):
    """Bodies must be JSON (415 otherwise); a write must not carry a body or query parameters
    its route ignores (400, 422); flask-smorest validates the rest."""

    @app.before_request
    def require_json_body():
        if request.method not in BODY_METHODS:
            return
        has_body = request.content_length or request.headers.get("Transfer-Encoding")
        if has_body and not request.is_json:
            raise UnsupportedMediaType("Request body must be JSON (Content-Type: application/json)")
        if has_body and request.content_length is None:
            read_chunked_body(app.config["MAX_CONTENT_LENGTH"])
        view = app.view_functions.get(request.endpoint)
        if view is None:
            return
        # A destructive call carrying input it would ignore is a client bug: refuse it.
        locations = argument_locations(view, request.method)
        if has_body and "json" not in locations:
            raise BadRequest("This endpoint takes no request body")
        if request.args and "query" not in locations:
            unknown = {name: ["Unknown field."] for name in request.args}
            raise errors.Invalid("This endpoint takes no query parameters", errors=unknown)


def read_chunked_body(limit):
    """Read a body sent without Content-Length (chunked) now, 413 when it exceeds `limit`.

    Werkzeug stops such a body at the limit without an error, so the JSON parser would see it
    cut short and answer 400; reading one byte more tells a body that is too large.
    """
    if limit is None:
        return
    request.max_content_length = limit + 1
    if len(request.get_data()) > limit:
        raise RequestEntityTooLarge(f"Request body is larger than {limit} bytes")


def register_commands(app):
    """Operator commands under `flask --app wsgi`."""
    from interview_service.commands import COMMANDS

    for command in COMMANDS:
        app.cli.add_command(command)


def register_indexes(app):
    """Create indexes at start-up where configured (development, tests)."""
    if app.config["CREATE_INDEXES_ON_START"]:
        db.ensure_indexes(modules.documents())
