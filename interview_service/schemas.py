"""Schemas shared by both blueprints: the success envelope, UTC times and cursor paging."""

from datetime import UTC, datetime

import marshmallow as ma
from marshmallow import fields, validate

from interview_service.pagination import decode_cursor


class UTCDateTime(fields.AwareDateTime):
    """ISO 8601 time: loads any offset (naive means UTC) as UTC; dumps UTC with a `Z`.

    Millisecond precision both ways, because that is what BSON stores: a time reads back
    exactly as it was answered.
    """

    def __init__(self, **kwargs):
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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


class PageArgsSchema(ma.Schema):
    """`limit` and the opaque `cursor` of the previous page's `nextCursor` (newest first)."""

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = Cursor(datetime)


class PageSchema(ResponseSchema):
    """A page of items; `nextCursor` is null on the last page."""

    next_cursor = fields.String(data_key="nextCursor", allow_none=True, dump_default=None)


class ErrorSchema(ma.Schema):
    """The one error shape."""

    success = fields.Boolean()
    code = fields.Integer()
    status = fields.String()
    message = fields.String()
    error = fields.String()
    errors = fields.Dict()
