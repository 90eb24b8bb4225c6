"""Keyset (cursor) pagination over MongoEngine querysets, newest first by default."""

import base64
import binascii
import math
from datetime import datetime

from bson import ObjectId, json_util
from bson.errors import InvalidId

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def encode_cursor(value, object_id):
    """Opaque cursor naming the last item of a page by its sort key and id."""
    raw = json_util.dumps([value, str(object_id)], json_options=json_util.CANONICAL_JSON_OPTIONS)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor, key_types):
    """(value, ObjectId) of a cursor whose value is one of `key_types`, else ValueError."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, object_id = json_util.loads(raw)
        object_id = ObjectId(object_id)
    except (ValueError, TypeError, InvalidId, binascii.Error, UnicodeDecodeError):
        raise ValueError("not a cursor") from None
    if not _is_key(value, key_types):
        raise ValueError("not a cursor of this list")
    return value, object_id


def _is_key(value, key_types):
    """Whether `value` is a sort key BSON can compare exactly: a date, a 64-bit integer or a
    finite number of `key_types` (never a bool, a string or NaN)."""
    if isinstance(value, bool) or not isinstance(value, key_types):
        return False
    if isinstance(value, datetime):
        return True
    if isinstance(value, int):
        # Compared, never `in range(...)`: bson's Int64 would make that a linear search.
        return INT64_MIN <= value <= INT64_MAX
    return math.isfinite(value)


def paginate(queryset, limit, cursor=None, key="created_at", descending=True, read=list):
    """A page `{items, next_cursor}`: `limit` documents after the decoded `cursor` (value, id),
    ordered by key then id, each batch turned into items by `read` (e.g. a raw read).

    Past the first page it asks two plain indexed ranges (the cursor key's ties after its id,
    then the keys past it) rather than one top-level `$or`, which SecantusDB answers with a
    full collection scan: every page costs what the first does.
    """
    direction = "-" if descending else ""
    after = "lt" if descending else "gt"
    ordered = queryset.order_by(f"{direction}{key}", f"{direction}id")
    if cursor is None:
        items = read(ordered.limit(limit + 1))
    else:
        value, object_id = cursor
        # Equality on the key: SecantusDB answers it from the index where it scans the
        # collection for `$in` or a range. (Beside a range the filters put on the key,
        # MongoEngine joins the two under `$and`: both still apply.)
        ties = ordered.filter(**{key: value, f"id__{after}": object_id})
        items = read(ties.limit(limit + 1))
        if len(items) <= limit:
            rest = ordered.filter(**{f"{key}__{after}": value})
            items += read(rest.limit(limit + 1 - len(items)))
    if len(items) <= limit:
        return {"items": items, "next_cursor": None}
    last = items[limit - 1]
    next_cursor = encode_cursor(_value(last, key), _value(last, "id"))
    return {"items": items[:limit], "next_cursor": next_cursor}


def _value(item, name):
    """Attribute `name` of a document or of a raw read's attribute dict."""
    return item[name] if isinstance(item, dict) else getattr(item, name)
