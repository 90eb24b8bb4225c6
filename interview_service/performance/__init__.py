"""The performance blueprint."""
