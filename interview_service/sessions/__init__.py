"""The sessions blueprint."""
