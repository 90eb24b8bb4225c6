"""Response schemas of the account blueprint, built from the blueprints' own output schemas."""

import marshmallow as ma
from marshmallow import fields

from interview_service.performance.schemas import InterviewSchema, PerformanceSchema
from interview_service.schemas import ResponseSchema, UTCDateTime
from interview_service.sessions.schemas import MessageSchema, ReportSchema, SessionSchema


class ExportedSessionSchema(ma.Schema):
    """A session with its whole transcript (in order) and every report (newest first)."""

    session = fields.Nested(SessionSchema)
    conversations = fields.List(fields.Nested(MessageSchema))
    reports = fields.List(fields.Nested(ReportSchema))


class ExportHeadSchema(ResponseSchema):
    """Whose export it is and when it was made."""

    user_id = fields.String(data_key="userId")
    exported_at = UTCDateTime(data_key="exportedAt")


class AccountExportSchema(ExportHeadSchema):
    """Everything the caller owns, in the shapes the API answers (oldest first)."""

    sessions = fields.List(fields.Nested(ExportedSessionSchema))
    interviews = fields.List(fields.Nested(InterviewSchema))
    performances = fields.List(fields.Nested(PerformanceSchema))


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
