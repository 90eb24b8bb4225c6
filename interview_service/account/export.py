"""The account export as one JSON document, written piece by piece from database cursors.

Each item is dumped with the same schema the API answers with, so an exported session,
message, report, interview or performance has exactly the shape the API gives it.
"""

from flask import json

from interview_service.account.schemas import ExportHeadSchema
from interview_service.performance.schemas import InterviewSchema, PerformanceSchema
from interview_service.sessions.schemas import MessageSchema, ReportSchema, SessionSchema

HEAD = ExportHeadSchema()
SESSION = SessionSchema()
MESSAGE = MessageSchema()
REPORT = ReportSchema()
INTERVIEW = InterviewSchema()
PERFORMANCE = PerformanceSchema()
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
    """The document's text, piece by piece."""
    head = json.dumps(HEAD.dump(parts))
    yield head[:-1]  # the head object, left open for the three lists
    yield ', "sessions": '
    yield from _array(_session(item) for item in parts["sessions"])
    yield ', "interviews": '
    yield from _array([_dump(INTERVIEW, item)] for item in parts["interviews"])
    yield ', "performances": '
    yield from _array([_dump(PERFORMANCE, item)] for item in parts["performances"])
    yield "}"


def _session(item):
    """Pieces of one exported session: the session, its transcript and its reports."""
    yield '{"session": '
    yield _dump(SESSION, item["session"])
    yield ', "conversations": '
    yield from _array([_dump(MESSAGE, message)] for message in item["conversations"])
    yield ', "reports": '
    yield from _array([_dump(REPORT, report)] for report in item["reports"])
    yield "}"


def _array(items):
    """A JSON array of `items`, each given as an iterable of text pieces."""
    yield "["
    for number, pieces in enumerate(items):
        if number:
            yield ", "
        yield from pieces
    yield "]"


def _dump(schema, document):
    return json.dumps(schema.dump(document))


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
