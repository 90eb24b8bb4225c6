"""The account export as one JSON document, written piece by piece from database cursors.

Each item is dumped with the same schema the API answers with, so an exported session,
message, report, interview or performance has exactly the shape the API gives it.
"""

from flask import json
from marshmallow import fields

from interview_service import modules
from interview_service.account.schemas import ExportHeadSchema

HEAD = ExportHeadSchema()
# Pieces are joined into chunks of about this many characters before they are sent.
CHUNK_CHARS = 64 * 1024


def json_chunks(parts):
    """Text chunks of the export `parts` (what account.service.export_user returns).

    The first chunk is written before this returns, so a database that fails at once is
    still an error answer rather than a truncated file.
    """
    chunks = _chunked(_pieces(parts))
    first = next(chunks)
    return _prepend(first, chunks)


def _prepend(first, chunks):
    yield first
    yield from chunks


def _pieces(parts):
    """The document's text, piece by piece: the head, then each module's parts."""
    head = json.dumps(HEAD.dump(parts))
    yield head[:-1]  # the head object, left open for the parts
    for name, schema_class in modules.merged("EXPORT_SCHEMAS").items():
        schema = schema_class()
        yield f", {json.dumps(name)}: "
        yield from _array(_item(schema, item) for item in parts[name])
    yield "}"


def _item(schema, item):
    """Pieces of one item dumped with `schema`. A module's composed item (a dict, such as a
    session with cursors on its transcript and reports) is written field by field, its lists
    of nested items one item at a time; anything else (a document) is dumped whole."""
    if not isinstance(item, dict):
        yield json.dumps(schema.dump(item))
        return
    for number, (name, field) in enumerate(schema.dump_fields.items()):
        yield ("{" if number == 0 else ", ") + f"{json.dumps(field.data_key or name)}: "
        if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            inner = field.inner.schema
            yield from _array(_item(inner, value) for value in item[field.attribute or name])
        else:
            yield json.dumps(field.serialize(name, item))
    yield "}"


def _array(items):
    """A JSON array of `items`, each given as an iterable of text pieces."""
    yield "["
    for number, pieces in enumerate(items):
        if number:
            yield ", "
        yield from pieces
    yield "]"


def _chunked(pieces):
    """Join pieces into chunks of about CHUNK_CHARS (fewer, larger writes to the socket)."""
    buffer, size = [], 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(buffer)
            buffer, size = [], 0
    yield "".join(buffer)
