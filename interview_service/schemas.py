"""Schemas shared by both blueprints: the success envelope, UTC times, cursor paging and the
keys existing clients read (`_id`, lists never null)."""

from datetime import UTC, datetime

import marshmallow as ma
from marshmallow import fields, validate

from interview_service import times
from interview_service.pagination import decode_cursor


class UTCDateTime(fields.AwareDateTime):
    """ISO 8601 time: loads any offset (naive means UTC) as UTC; dumps UTC with a `Z`.

    Millisecond precision both ways, because that is what BSON stores: a time reads back
    exactly as it was answered. A time whose UTC falls outside years 1-9999 is invalid.
    """

    default_error_messages = {"range": "Not a valid datetime: outside years 0001-9999 in UTC."}

    def __init__(self, **kwargs):
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return times.truncate_ms(times.as_utc(moment))
        except OverflowError:
            raise self.make_error("range") from None

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else times.iso(value)


class FullMatch(validate.Regexp):
    """A Regexp validator that must match the whole value.

    marshmallow's Regexp uses `re.match`, and `$` also matches before a trailing newline, so
    `^id$` alone lets `id\\n` through. The pattern stays `^…$` for the OpenAPI document.
    """

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


OBJECT_ID_PATTERN = r"^[0-9a-fA-F]{24}$"
OBJECT_ID = FullMatch(OBJECT_ID_PATTERN, error="Must be a 24-character hex id")


class Cursor(fields.String):
    """An opaque `nextCursor`, loaded as its (sort key, ObjectId) when the key is one of
    `key_types`; anything else (a forged value, a string, NaN, an integer past 64 bits) is 422."""

    default_error_messages = {"invalid_cursor": "Invalid cursor"}
    MAX_LENGTH = 200

    def __init__(self, *key_types, **kwargs):
        super().__init__(**kwargs)
        self.key_types = key_types

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            if len(text) > self.MAX_LENGTH:
                raise ValueError("too long")
            return decode_cursor(text, self.key_types)
        except ValueError:
            raise self.make_error("invalid_cursor") from None


class ResponseSchema(ma.Schema):
    """Every 2xx body carries `success: true`; the SPA checks it on every answer."""

    success = fields.Boolean(dump_default=True, metadata={"description": "Always true on 2xx"})


class LegacyIdSchema(ma.Schema):
    """`_id` beside `id`, same value: the key the original API gave, which existing clients read."""

    # dump_only, so two fields may read the same attribute.
    legacy_id = fields.String(
        attribute="id",
        data_key="_id",
        dump_only=True,
        metadata={"description": "The same value as `id` (the original API's key)"},
    )


def count(data_key, maximum=None, **kwargs):
    """A whole number from 0 (to `maximum`). Strict: marshmallow would otherwise truncate 2.5 to
    2 and read "2"."""
    return fields.Integer(
        data_key=data_key, strict=True, validate=validate.Range(min=0, max=maximum), **kwargs
    )


class StrictBoolean(fields.Boolean):
    """JSON `true` or `false` only: marshmallow's Boolean also reads 0, 1, "yes" and "on"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class ListOrEmpty(fields.List):
    """A list answered as `[]` when it is unset or null: clients iterate it without a check."""

    def __init__(self, cls_or_instance, **kwargs):
        super().__init__(cls_or_instance, dump_default=list, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize([] if value is None else value, attr, obj, **kwargs)


class PageArgsSchema(ma.Schema):
    """`limit` and the opaque `cursor` of the previous page's `nextCursor` (newest first)."""

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = Cursor(datetime)


class PageSchema(ResponseSchema):
    """A page of items; `nextCursor` is null on the last page."""

    next_cursor = fields.String(data_key="nextCursor", allow_none=True, dump_default=None)


def page_schema(item_schema, name=None, **more_fields):
    """The schema of a page of `item_schema` (with `more_fields` after the items), named
    `<name>PageSchema` (`name` defaults to the item schema's)."""
    name = name or item_schema.__name__.removesuffix("Schema")
    items = fields.List(fields.Nested(item_schema))
    return type(f"{name}PageSchema", (PageSchema,), {"items": items, **more_fields})


class ErrorSchema(ma.Schema):
    """The one error shape."""

    success = fields.Boolean()
    code = fields.Integer()
    status = fields.String()
    type = fields.String(
        metadata={"description": "Machine-readable reason, e.g. token_expired, validation_failed"}
    )
    message = fields.String()
    error = fields.String()
    errors = fields.Dict()
