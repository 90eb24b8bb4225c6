"""WSGI entry point for gunicorn and `flask --app wsgi`."""

from interview_service import create_app

app = create_app()
