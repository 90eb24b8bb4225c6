"""Rate limits per verified user (or client address), counted in MongoDB and shared by workers."""

import logging
import math
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

import limits
import limits.storage
import pymongo
import pymongo.errors
from flask import g, has_request_context, request
from flask_limiter import ApplicationLimit, Limiter

from interview_service import db
from interview_service.auth import current_user
from interview_service.errors import Unauthorized
from interview_service.observability import user_hash
from interview_service.ops import blp as ops_blp

log = logging.getLogger(__name__)

# One atomic findAndModify per request (a pipeline update with $$NOW), which MongoDB 4.2+ and
# SecantusDB both run; limits' sliding-window strategy fails on SecantusDB. Its answer also
# fills the X-RateLimit-* headers (MongoDBStorage.incr), so a request costs one round trip.
STRATEGY = "fixed-window"
EXTENSION = "interview_service.limiter"


class MongoDBStorage(limits.storage.MongoDBStorage):
    """limits' MongoDB storage, except that a storage never used never connects.

    The library's `__del__` reads its lazy `storage` property, so an unused storage would open a
    client and create indexes while being garbage-collected; ours does nothing. Registering the
    same URI schemes makes `storage_from_string` (used by Flask-Limiter) build this class
    instead.
    """

    STORAGE_SCHEME = ["mongodb", "mongodb+srv"]

    def __del__(self):
        # Nothing: closing a client inside garbage collection ends its sessions, which selects
        # a server and starts a monitor thread there; run from within another Thread.start
        # that deadlocks. The client goes with its process.
        pass

    def incr(self, key, expiry, amount=1):
        """limits' counting findAndModify, also projecting `expireAt` and keeping the answer for
        this request, so the headers (`get`, `get_expiry`) need no second and third read."""
        # Not a retryable write (see storage_settings), so retried here. Should the lost
        # attempt have counted, the caller is counted twice: strict, never lenient.
        counter = db.retried_once(partial(self._count, key, expiry, amount))
        if has_request_context():
            g.setdefault("rate_limit_counters", {})[key] = counter
        return int(counter["count"]) if counter else 0

    def _count(self, key, expiry, amount):
        """The counter of `key` after adding `amount` (a fresh window once the last one ended)."""
        expiration = datetime.now(UTC) + timedelta(seconds=expiry)
        expired = {"$lt": ["$expireAt", "$$NOW"]}
        return self.counters.find_one_and_update(
            {"_id": key},
            [
                {
                    "$set": {
                        "count": {"$cond": [expired, amount, {"$add": ["$count", amount]}]},
                        "expireAt": {"$cond": [expired, expiration, "$expireAt"]},
                    }
                }
            ],
            upsert=True,
            projection=["count", "expireAt"],
            return_document=pymongo.ReturnDocument.AFTER,
        )

    def get(self, key):
        """The count this request's `incr` answered, else limits' read."""
        counter = _counted(key)
        return int(counter["count"]) if counter else super().get(key)

    def get_expiry(self, key):
        """The window's end this request's `incr` answered, else limits' read."""
        counter = _counted(key)
        if counter is None:
            return super().get_expiry(key)
        return counter["expireAt"].replace(tzinfo=UTC).timestamp()


def _counted(key):
    """The counter document `incr` answered for `key` in this request, if any."""
    return g.get("rate_limit_counters", {}).get(key) if has_request_context() else None


def storage_settings(config):
    """Storage URI and options: the app's own MongoDB database unless RATE_LIMIT_STORAGE_URI."""
    uri = config.get("RATE_LIMIT_STORAGE_URI") or config["MONGODB_URI"]
    if uri.startswith("mongomock://"):  # tests on the in-process mock: count in memory
        return "memory://", {}
    if not uri.startswith("mongodb"):
        return uri, {}
    database = urlsplit(uri).path.strip("/") or "interview_service"
    return uri, {
        "database_name": database,
        "counter_collection_name": "rate_limits",
        "window_collection_name": "rate_limit_windows",
        "serverSelectionTimeoutMS": config["MONGODB_SERVER_SELECTION_TIMEOUT_MS"],
        "connectTimeoutMS": config["MONGODB_SERVER_SELECTION_TIMEOUT_MS"],
        "timeoutMS": config["MONGODB_TIMEOUT_MS"],
        "appname": "interview-service-limits",
        # At one count per request, SecantusDB's bookkeeping of retryable writes was a quarter
        # of its time under load (see db.retried_once, which `incr` uses instead).
        "retryWrites": False,
    }


def rate_limit_key():
    """The verified user's pseudonym, else the client address (an invalid token counts as none)."""
    try:
        user = current_user()
    except Unauthorized:
        user = None
    return f"user:{user_hash(user)}" if user else f"ip:{request.remote_addr}"


def is_preflight():
    """CORS preflights are answered by flask-cors without touching the service: not counted."""
    return request.method == "OPTIONS"


def init_app(app):
    """Bind a limiter to `app`: RATE_LIMIT_DEFAULT per caller across the whole API.

    A Limiter keeps its storage, limits and enabled flag on itself, so each app gets its own
    (one module-level object would leak one test app's limits into the next).
    """
    config = app.config
    check_limit(config, "RATE_LIMIT_DEFAULT")
    storage_uri, storage_options = storage_settings(config)
    limiter = Limiter(
        rate_limit_key,
        application_limits=[
            ApplicationLimit(
                config["RATE_LIMIT_DEFAULT"],
                error_message=f"Rate limit exceeded ({config['RATE_LIMIT_DEFAULT']}), slow down",
                exempt_when=is_preflight,
            )
        ],
        storage_uri=storage_uri,
        storage_options=storage_options,
        strategy=STRATEGY,
        key_prefix="interview-service",
        # The headers are ours (add_headers): Flask-Limiter's would overwrite a 503's Retry-After.
        headers_enabled=False,
        enabled=config["RATE_LIMIT_ENABLED"],
    )
    limiter.exempt(ops_blp)
    # With limits off, init_app returns before building a storage: nothing touches the database.
    limiter.init_app(app)
    if limiter.enabled:
        app.after_request(partial(add_headers, limiter))
    app.extensions[EXTENSION] = limiter


def check_limit(config, setting):
    """Refuse to start when the setting is not a rate limit."""
    try:
        limits.parse_many(config[setting])
    except ValueError:
        raise RuntimeError(f"{setting} is not a rate limit: {config[setting]!r}") from None


def limit_blueprint(app, blueprint, setting):
    """Limit each caller on `blueprint`'s routes to the `setting` limit, besides the default;
    a request refused with a 4xx (nothing done) is not counted."""
    check_limit(app.config, setting)
    limit = app.config[setting]
    app.extensions[EXTENSION].limit(
        limit,
        key_func=rate_limit_key,
        error_message=f"Rate limit exceeded ({limit}), try again later",
        deduct_when=lambda response: not 400 <= response.status_code < 500,
    )(blueprint)


def add_headers(limiter, response):
    """X-RateLimit-* on every counted answer; Retry-After on a 429 (a 503 keeps its own)."""
    current = limiter.current_limit
    if current is None or response.status_code == 503:
        return response
    try:
        reset_time, remaining = current.window
    except pymongo.errors.PyMongoError as error:
        log.warning("rate limit headers skipped: %s", error.__class__.__name__)
        return response
    response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(math.ceil(reset_time))
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, math.ceil(reset_time - time.time())))
    return response
