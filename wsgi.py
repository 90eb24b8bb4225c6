"""WSGI entry point for gunicorn and `flask --app wsgi`."""

from pathlib import Path

from dotenv import load_dotenv

# Before the settings are read: .env as the flask CLI and `make run` read it (the environment wins).
load_dotenv(Path(__file__).resolve().parent / ".env")

from interview_service import create_app  # noqa: E402

app = create_app()
