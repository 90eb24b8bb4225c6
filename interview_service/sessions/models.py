"""Documents of the sessions blueprint."""

DOCUMENTS = []
