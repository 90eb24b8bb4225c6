"""UTC times at the millisecond precision BSON stores, and their ISO 8601 text."""

from datetime import UTC, datetime


def now():
    """The current UTC time at the millisecond precision BSON stores."""
    return truncate_ms(datetime.now(UTC))


def truncate_ms(moment):
    """`moment` at the millisecond precision BSON stores."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def as_utc(moment):
    """`moment` in UTC (naive means UTC); OverflowError when UTC falls outside years 1-9999."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment):
    """ISO 8601 in UTC with a `Z`, milliseconds and a 4-digit year (`0946-06-09T…Z`)."""
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")
