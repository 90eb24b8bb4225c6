"""Settings classes: defaults here, each overridable by the environment variable of that name."""

import os
from pathlib import Path

# `make run` writes the URI of the database it started here, for commands run beside it.
RUNNING_DATABASE_URI_FILE = "mongodb.uri"


class ConfigError(RuntimeError):
    """A setting the service cannot run with; its message is the one line an operator sees."""


def env_str(name, default=None):
    """Return the variable `name`, or `default` when it is unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name, default):
    """Return the variable `name` as an int."""
    return int(env_str(name, default))


def env_float(name, default):
    """Return the variable `name` as a float."""
    return float(env_str(name, default))


def env_bool(name, default):
    """Return the variable `name` as a bool (1/true/yes/on)."""
    value = env_str(name)
    return default if value is None else value.lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    """Return the comma-separated variable `name` as a list of non-empty items."""
    value = env_str(name, default)
    return [item.strip() for item in value.split(",") if item.strip()]


class Config:
    """Defaults shared by every environment."""

    TESTING = False
    DEBUG = False

    MONGODB_URI = env_str("MONGODB_URI", "mongodb://127.0.0.1:27017/interview_service")
    # Short timeouts: a database outage answers 503 quickly instead of hanging a worker.
    MONGODB_SERVER_SELECTION_TIMEOUT_MS = env_int("MONGODB_SERVER_SELECTION_TIMEOUT_MS", 2000)
    MONGODB_TIMEOUT_MS = env_int("MONGODB_TIMEOUT_MS", 5000)
    CREATE_INDEXES_ON_START = False

    JWT_SECRET = env_str("JWT_SECRET")
    JWT_JWKS_URL = env_str("JWT_JWKS_URL")
    JWT_AUDIENCE = env_str("JWT_AUDIENCE")
    JWT_ISSUER = env_str("JWT_ISSUER")
    JWT_LEEWAY = env_int("JWT_LEEWAY", 30)
    JWT_JWKS_LIFESPAN = env_int("JWT_JWKS_LIFESPAN", 300)
    JWT_JWKS_COOLDOWN = env_int("JWT_JWKS_COOLDOWN", 30)
    JWT_ALGORITHMS_SECRET = ["HS256"]
    JWT_ALGORITHMS_JWKS = ["RS256", "ES256"]

    CORS_ORIGINS = env_list(
        "CORS_ORIGINS",
        "http://localhost:5173,http://localhost:3000,http://127.0.0.1:5173,http://127.0.0.1:3000",
    )
    CORS_MAX_AGE = env_int("CORS_MAX_AGE", 600)
    ALLOW_ANONYMOUS_SESSIONS = env_bool("ALLOW_ANONYMOUS_SESSIONS", True)

    RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
    RATE_LIMIT_DEFAULT = env_str("RATE_LIMIT_DEFAULT", "300 per minute")
    RATE_LIMIT_STORAGE_URI = env_str("RATE_LIMIT_STORAGE_URI")  # default: MONGODB_URI
    # How many proxies in front (nginx) may set X-Forwarded-For/-Proto/-Host; 0 trusts none.
    PROXY_FIX_X_FOR = env_int("PROXY_FIX_X_FOR", 0)
    METRICS_ENABLED = env_bool("METRICS_ENABLED", True)

    SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 2 * 60 * 60)  # seconds
    RESUME_MAX_CHARS = env_int("RESUME_MAX_CHARS", 200_000)
    MESSAGE_MAX_CHARS = env_int("MESSAGE_MAX_CHARS", 20_000)
    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)
    LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
    LOG_FORMAT = env_str("LOG_FORMAT", "json")  # text, json, or auto: text on a terminal

    # Feedback generation: any OpenAI-compatible chat-completions API; none when neither the
    # base URL nor the key is set (the generate routes then answer 503).
    LLM_BASE_URL = env_str("LLM_BASE_URL")  # default: OpenAI's when only a key is given
    LLM_API_KEY = env_str("LLM_API_KEY")
    LLM_MODEL = env_str("LLM_MODEL", "gpt-4o-mini")
    # The time budget of one generation in seconds (every call and the one retry included):
    # below gunicorn's timeout, so a request generating in place is never killed.
    LLM_TIMEOUT = env_float("LLM_TIMEOUT", 25)
    LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2)  # transport retries, in feedback-worker
    LLM_RESPONSE_FORMAT = env_str("LLM_RESPONSE_FORMAT", "json_schema")  # or json_object
    FEEDBACK_RATE_LIMIT = env_str("FEEDBACK_RATE_LIMIT", "10 per hour")
    # A feedback-worker holds a claimed report this long; then another worker takes it over.
    FEEDBACK_LEASE_SECONDS = env_float("FEEDBACK_LEASE_SECONDS", 180)
    FEEDBACK_POLL_SECONDS = env_float("FEEDBACK_POLL_SECONDS", 1)

    API_TITLE = "interview-service"
    API_VERSION = "1.0.0"  # the document's info.version is the package's (openapi.finish)
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"  # the pinned swagger-ui-bundle, offline

    @classmethod
    def check(cls):
        """Refuse unsafe settings; the base class accepts anything."""


def running_database_uri():
    """The URI `make run` wrote under DATA_DIR (var/) for the database it started, if any."""
    data = Path(env_str("DATA_DIR", Path(__file__).resolve().parent.parent / "var"))
    try:
        return (data / RUNNING_DATABASE_URI_FILE).read_text().strip() or None
    except OSError:
        return None


class Development(Config):
    """Local development (`make run` starts the embedded database and runs init-db first)."""

    MONGODB_URI = env_str("MONGODB_URI") or running_database_uri() or Config.MONGODB_URI
    LOG_FORMAT = env_str("LOG_FORMAT", "auto")
    JWT_SECRET = env_str("JWT_SECRET", "dev-secret-change-me-0123456789abcdef")


class Testing(Config):
    """Tests: in-process mongomock unless a test gives another URI; limits off."""

    TESTING = True
    MONGODB_URI = "mongomock://localhost/interview_service_test"
    JWT_SECRET = "test-secret-0123456789abcdef0123456789"
    JWT_AUDIENCE = None
    JWT_ISSUER = None
    CORS_ORIGINS = ["http://spa.test"]
    ALLOW_ANONYMOUS_SESSIONS = True
    RATE_LIMIT_ENABLED = False
    CREATE_INDEXES_ON_START = True
    LLM_BASE_URL = None
    LLM_API_KEY = None


class Production(Config):
    """Production: secrets and origins must be given explicitly."""

    ALLOW_ANONYMOUS_SESSIONS = env_bool("ALLOW_ANONYMOUS_SESSIONS", False)
    PROXY_FIX_X_FOR = env_int("PROXY_FIX_X_FOR", 1)

    @classmethod
    def check(cls):
        """Refuse to start without a token verifier or with a wildcard CORS origin."""
        if not (cls.JWT_SECRET or cls.JWT_JWKS_URL):
            raise ConfigError("Production needs JWT_SECRET or JWT_JWKS_URL")
        if cls.JWT_SECRET and len(cls.JWT_SECRET) < 32:
            raise ConfigError("JWT_SECRET must be at least 32 characters")
        if not cls.CORS_ORIGINS or any("*" in origin for origin in cls.CORS_ORIGINS):
            raise ConfigError("CORS_ORIGINS must list explicit origins, not a wildcard")
        if not env_str("MONGODB_URI"):
            raise ConfigError("Production needs MONGODB_URI")
        if cls.LLM_TIMEOUT >= env_float("GUNICORN_TIMEOUT", 30):
            raise ConfigError("LLM_TIMEOUT must be below GUNICORN_TIMEOUT")


ENVIRONMENTS = {"development": Development, "testing": Testing, "production": Production}


def settings_for(name=None):
    """Return the settings class for `name` (default: the APP_ENV variable, else development)."""
    name = name or env_str("APP_ENV", "development")
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {sorted(ENVIRONMENTS)}, not {name!r}") from None
