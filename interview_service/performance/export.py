"""CSV export of performances: RFC 4180 via the csv module, streamed from a database cursor.

Round results are flattened into one `rounds` cell (round types are open-ended, so fixed
columns per type would change with the data): `roundType: score S, answered A/T, M min`
per round, joined by "; ", parts left out when not recorded.
"""

import csv
import io

from interview_service import times

COLUMNS = (
    "performanceId",
    "interviewId",
    "completedAt",
    "jobTitle",
    "companyName",
    "interviewType",
    "experienceLevel",
    "score",
    "totalQuestions",
    "correctAnswers",
    "accuracy",
    "timeSpent",
    "feedbackOverall",
    "strengths",
    "improvements",
    "recommendations",
    "roundCount",
    "rounds",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH_SIZE = 500
ROWS_PER_CHUNK = 200
LIST_SEPARATOR = "; "


def csv_chunks(queryset):
    """Text chunks of the CSV of `queryset`: the header, then rows in batches.

    The first batch is fetched before this returns, so a database failure is still an
    error answer rather than a truncated file.
    """
    # Whole documents: `row` reads only its fields, and SecantusDB answers a projection
    # slower than the documents it would trim (about 1.8× on a 500-row export).
    cursor = queryset.as_pymongo().batch_size(BATCH_SIZE).no_cache()
    # A generator, so the rows continue from `first` (iterating a QuerySet again rewinds it).
    documents = (document for document in cursor)
    first = next(documents, None)
    return _generate(first, documents)


def _generate(first, documents):
    """Yield the header and rows, ROWS_PER_CHUNK rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    pending = 0
    if first is not None:
        writer.writerow(row(first))
        pending = 1
    for document in documents:
        writer.writerow(row(document))
        pending += 1
        if pending >= ROWS_PER_CHUNK:
            yield _drain(buffer)
            pending = 0
    yield _drain(buffer)


def _drain(buffer):
    """Return the buffer's text and empty it (memory stays one chunk)."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def row(document):
    """One CSV row of a raw performance document, in COLUMNS order."""
    feedback = document.get("feedback") or {}
    rounds = document.get("roundResults")
    total, correct = document.get("totalQuestions"), document.get("correctAnswers")
    return [
        str(document["_id"]),
        str(document["interviewId"]),
        _iso(document.get("completedAt")),
        _text(document.get("jobTitle")),
        _text(document.get("companyName")),
        _text(document.get("interviewType")),
        _text(document.get("experienceLevel")),
        _number(document.get("score")),
        _number(total),
        _number(correct),
        _number(round(correct / total, 4)) if total and correct is not None else "",
        _number(document.get("timeSpent")),
        _text(feedback.get("overall")),
        _text(LIST_SEPARATOR.join(feedback.get("strengths") or [])),
        _text(LIST_SEPARATOR.join(feedback.get("improvements") or [])),
        _text(LIST_SEPARATOR.join(feedback.get("recommendations") or [])),
        "" if rounds is None else str(len(rounds)),
        _text(LIST_SEPARATOR.join(_round_text(item) for item in rounds or [])),
    ]


def _round_text(item):
    """`roundType: score S, answered A/T, M min`, with the parts that were recorded."""
    parts = []
    if item.get("score") is not None:
        parts.append(f"score {_number(item['score'])}")
    answered, total = item.get("questionsAnswered"), item.get("totalQuestions")
    if answered is not None or total is not None:
        parts.append(f"answered {_number(answered) or '?'}/{_number(total) or '?'}")
    if item.get("timeSpent") is not None:
        parts.append(f"{_number(item['timeSpent'])} min")
    return (
        f"{item.get('roundType', '')}: {', '.join(parts)}" if parts else item.get("roundType", "")
    )


def _text(value):
    """A text cell, neutralised when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    value = str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _number(value):
    """A number cell: integral values without a trailing .0, missing values empty."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _iso(value):
    """ISO 8601 UTC with a Z; a missing time is an empty cell."""
    return "" if value is None else times.iso(value)
