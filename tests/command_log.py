"""Count the database commands the code under test sends (pymongo command monitoring)."""

import contextlib
import threading

from pymongo import monitoring

IGNORED = {"hello", "ismaster", "isMaster", "ping", "endSessions", "killCursors"}


class CommandLog(monitoring.CommandListener):
    """Records (command name, collection) of each command started while recording, or the
    whole command documents."""

    def __init__(self):
        self._lock = threading.Lock()
        self._commands = None
        self._whole = False

    def started(self, event):
        if self._commands is None or event.command_name in IGNORED:
            return
        collection = event.command.get(event.command_name)
        entry = dict(event.command) if self._whole else (event.command_name, collection)
        with self._lock:
            if self._commands is not None:
                self._commands.append(entry)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    @contextlib.contextmanager
    def recording(self, whole=False):
        """Record the commands sent inside the block into the list it yields (the documents
        themselves when `whole`)."""
        self._whole = whole
        self._commands = commands = []
        try:
            yield commands
        finally:
            self._commands = None


# Registered once, for clients created afterwards; inert while not recording.
COMMANDS = CommandLog()
monitoring.register(COMMANDS)
