"""Request headers of the feedback routes (the answers are the sessions blueprint's reports)."""

import marshmallow as ma
from marshmallow import fields

from interview_service.sessions.schemas import IdempotencyHeaderSchema


class GenerateHeadersSchema(IdempotencyHeaderSchema):
    """`Idempotency-Key`, and `Prefer: respond-async` to queue the generation (RFC 7240)."""

    prefer = fields.String(data_key="Prefer")

    @ma.post_load
    def respond_async(self, data, **kwargs):
        """`respond_async`: True when one of the preferences is respond-async."""
        preferences = (data.pop("prefer", "") or "").split(",")
        data["respond_async"] = any(
            item.split(";")[0].strip().lower() == "respond-async" for item in preferences
        )
        return data
