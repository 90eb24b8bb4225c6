"""WSGI entry point for gunicorn and `flask --app wsgi`."""

import sys
from pathlib import Path

from dotenv import load_dotenv

# Before the settings are read: .env as the flask CLI and `make run` read it (the environment wins).
load_dotenv(Path(__file__).resolve().parent / ".env")

from config import ConfigError  # noqa: E402
from interview_service import create_app  # noqa: E402

try:
    app = create_app()
except ConfigError as error:  # one line for the operator, not a traceback
    sys.exit(f"interview-service: {error}")
