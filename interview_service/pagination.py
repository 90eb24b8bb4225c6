"""Keyset (cursor) pagination over MongoEngine querysets, newest first by default."""

import base64
import binascii
from datetime import datetime

from bson import ObjectId, json_util
from bson.errors import InvalidId
from mongoengine.queryset.visitor import Q

from interview_service.errors import Invalid

_KEY_TYPES = (datetime, int, float, str)


def encode_cursor(value, object_id):
    """Opaque cursor naming the last item of a page by its sort key and id."""
    raw = json_util.dumps([value, str(object_id)], json_options=json_util.CANONICAL_JSON_OPTIONS)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """Return (value, ObjectId) of a cursor, or raise Invalid (422)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, object_id = json_util.loads(raw)
        if value is not None and not isinstance(value, _KEY_TYPES):
            raise ValueError("cursor key of an unexpected type")
        return value, ObjectId(object_id)
    except (ValueError, TypeError, InvalidId, binascii.Error, UnicodeDecodeError):
        raise Invalid("Invalid cursor", field="cursor") from None


def paginate(queryset, limit, cursor=None, key="created_at", descending=True):
    """Return (items, next_cursor): `limit` documents after `cursor`, ordered by key then id."""
    direction = "-" if descending else ""
    after = "lt" if descending else "gt"
    if cursor:
        value, object_id = decode_cursor(cursor)
        queryset = queryset.filter(
            Q(**{f"{key}__{after}": value}) | Q(**{key: value, f"id__{after}": object_id})
        )
    items = list(queryset.order_by(f"{direction}{key}", f"{direction}id").limit(limit + 1))
    if len(items) <= limit:
        return items, None
    last = items[limit - 1]
    return items[:limit], encode_cursor(getattr(last, key), last.id)
