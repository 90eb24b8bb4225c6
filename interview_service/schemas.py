"""Schemas shared by both blueprints: the success envelope and cursor-paging arguments."""

import marshmallow as ma
from marshmallow import fields, validate


class ResponseSchema(ma.Schema):
    """Every 2xx body carries `success: true`; the SPA checks it on every answer."""

    success = fields.Boolean(dump_default=True, metadata={"description": "Always true on 2xx"})


class PageArgsSchema(ma.Schema):
    """`limit` and the opaque `cursor` of the previous page's `nextCursor`."""

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(max=200))


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
