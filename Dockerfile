# interview-service under gunicorn (put config/nginx.conf in front of it).
# Configure with the environment variables of the README; MONGODB_URI and JWT_SECRET (or
# JWT_JWKS_URL) and CORS_ORIGINS are required in production.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY config ./config
COPY interview_service ./interview_service
COPY wsgi.py ./
RUN pip install .

RUN useradd --system --uid 10001 --no-create-home app
USER app

EXPOSE 8000
# Indexes: run `flask --app wsgi init-db` once per release (e.g. as a one-off container).
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]
