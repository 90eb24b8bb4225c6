"""MongoEngine connection (lazy and fork-safe), index creation and the readiness ping."""

import functools
import re

import mongoengine
from mongoengine.base import BaseField
from mongoengine.connection import get_db
from pymongo.errors import AutoReconnect, ConfigurationError
from pymongo.uri_parser import parse_uri

from config import ConfigError

ALIAS = mongoengine.DEFAULT_CONNECTION_NAME


def client_options(config):
    """Driver options: short timeouts so an outage answers 503 fast; UTC-aware datetimes."""
    return {
        "serverSelectionTimeoutMS": config["MONGODB_SERVER_SELECTION_TIMEOUT_MS"],
        "timeoutMS": config["MONGODB_TIMEOUT_MS"],
        "connectTimeoutMS": config["MONGODB_SERVER_SELECTION_TIMEOUT_MS"],
        "tz_aware": True,
        "uuidRepresentation": "standard",
        "retryWrites": True,
        "retryReads": True,
        "appname": "interview-service",
        # No socket is opened until the first operation, i.e. after gunicorn forks.
        "connect": False,
    }


def init_app(app):
    """Register the connection for this app (replacing any earlier one in the process)."""
    uri = app.config["MONGODB_URI"]
    options = client_options(app.config)
    check_uri(uri)
    if uri.startswith("mongomock://"):
        import mongomock  # test-only dependency, imported only when asked for

        uri = "mongodb://" + uri.removeprefix("mongomock://")
        options = {
            "tz_aware": True,
            "uuidRepresentation": "standard",
            "mongo_client_class": mongomock.MongoClient,
        }
    mongoengine.disconnect(ALIAS)
    mongoengine.connect(host=uri, alias=ALIAS, **options)


def check_uri(uri):
    """ConfigError unless `uri` is a MongoDB connection string (SRV names are resolved later)."""
    if uri.startswith(("mongodb+srv://", "mongomock://")):
        return
    try:
        parse_uri(uri, warn=True)  # unknown options only warn, as in MongoClient
    except (ConfigurationError, ValueError) as error:
        raise ConfigError(f"MONGODB_URI is not a valid MongoDB URI: {error}") from None


def redacted(uri):
    """`uri` without its password, for messages."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", uri)


def database():
    """The pymongo Database behind the default connection."""
    return get_db(ALIAS)


def ping():
    """Round trip to the server; raises a pymongo error when it is unreachable."""
    database().client.admin.command("ping")


def retried_once(write):
    """`write()`, run once more after a dropped connection (not after a timeout, as the driver
    does not), for a write whose repeat is harmless and which is sent as no retryable write:
    SecantusDB records every retryable write and walks and sorts all its records (up to
    10,000, kept 30 minutes) on each one, which made such a write cost ten times a plain one."""
    try:
        return write()
    except AutoReconnect as error:
        if error.timeout:
            raise
        return write()


def ensure_indexes(documents):
    """Create the indexes each document declares in its meta."""
    for document in documents:
        document.ensure_indexes()


def disconnect():
    """Drop the connection (tests, and the end of a worker)."""
    mongoengine.disconnect(ALIAS)


def read_raw(document_class, queryset):
    """The documents of `queryset` read raw (`as_pymongo()`) as `attributes_of` dicts: what the
    response schemas read from documents, without the cost of building them (hot read paths)."""
    return [attributes_of(document_class, raw) for raw in queryset.as_pymongo()]


def attributes_of(document_class, raw):
    """One raw document keyed by `document_class`'s attribute names, `_id` as `id`, embedded
    documents (alone or in lists) alike, unset fields at their defaults."""
    fields = _fields_by_db_name(document_class)
    attributes = {}
    for key, value in raw.items():
        field = fields.get(key)
        if field is None:
            attributes[key] = value
            continue
        embedded = _embedded_type(field)
        if embedded is not None and isinstance(value, dict):
            value = attributes_of(embedded, value)
        elif embedded is not None and isinstance(value, list):
            value = [attributes_of(embedded, item) for item in value]
        attributes[field.name] = value
    for name, field in _fields(document_class).items():
        if name not in attributes:
            attributes[name] = field.default() if callable(field.default) else field.default
    return attributes


@functools.cache
def _fields(document_class):
    """The fields of `document_class` (its bases' included) by attribute name: MongoEngine keeps
    each field as a class attribute, with its `name` and stored `db_field`."""
    return {
        name: value
        for cls in reversed(document_class.__mro__)
        for name, value in vars(cls).items()
        if isinstance(value, BaseField)
    }


@functools.cache
def _fields_by_db_name(document_class):
    """The fields of `document_class` by their stored names."""
    return {field.db_field: field for field in _fields(document_class).values()}


def _embedded_type(field):
    """The embedded document class a field holds (alone or as list items), else None."""
    if isinstance(field, mongoengine.ListField):
        field = field.field
    if isinstance(field, mongoengine.EmbeddedDocumentField):
        return field.document_type
    return None
