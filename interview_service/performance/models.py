"""Documents of the performance blueprint."""

DOCUMENTS = []
