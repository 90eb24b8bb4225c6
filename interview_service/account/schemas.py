"""Response schemas of the account blueprint, built from the blueprints' own output schemas."""

import marshmallow as ma
from marshmallow import fields

from interview_service.performance import schemas as performance_schemas
from interview_service.schemas import ResponseSchema, UTCDateTime
from interview_service.sessions import schemas as session_schemas

# The export's parts, as the registry merges them (read here at import, before the registry is
# complete: tests/api/test_account_registry.py checks the two agree).
EXPORT_PARTS = {**session_schemas.EXPORT_SCHEMAS, **performance_schemas.EXPORT_SCHEMAS}


class ExportHeadSchema(ResponseSchema):
    """Whose export it is and when it was made."""

    user_id = fields.String(data_key="userId")
    exported_at = UTCDateTime(data_key="exportedAt")


# Everything the caller owns, in the shapes the API answers (oldest first).
AccountExportSchema = type(
    "AccountExportSchema",
    (ExportHeadSchema,),
    {name: fields.List(fields.Nested(schema)) for name, schema in EXPORT_PARTS.items()},
)


class DeletedCountsSchema(ma.Schema):
    """How many documents of each kind were deleted."""

    sessions = fields.Integer()
    conversations = fields.Integer()
    reports = fields.Integer()
    interviews = fields.Integer()
    performances = fields.Integer()


class AccountDeletedSchema(ResponseSchema):
    """Answer of DELETE /api/me."""

    deleted = fields.Nested(DeletedCountsSchema)
