# interview-service under gunicorn (put config/nginx.conf in front of it: docker-compose.yml does).
# Configure with the environment variables of the README; MONGODB_URI and JWT_SECRET (or
# JWT_JWKS_URL) and CORS_ORIGINS are required in production.
FROM python:3.11-slim

LABEL org.opencontainers.image.title="interview-service" \
      org.opencontainers.image.description="Backend of an AI mock-interview practice app: sessions, transcripts, reports and performance analytics" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Proprietary"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app

# The dependency layer: setup.cfg's install_requires at the versions CI tests (constraints.txt).
# It is rebuilt only when one of these two files changes, not on every code change.
COPY setup.cfg constraints.txt ./
RUN python -c "import configparser; c = configparser.ConfigParser(); c.read('setup.cfg'); print(c['options']['install_requires'])" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt -c constraints.txt \
    && rm /tmp/requirements.txt

COPY pyproject.toml README.md ./
COPY config ./config
COPY interview_service ./interview_service
COPY wsgi.py ./
RUN pip install --no-deps .

# gunicorn writes its control socket under $HOME/.gunicorn: the app user needs a home.
RUN useradd --system --uid 10001 --create-home --home-dir /home/app app
USER app
ENV HOME=/home/app

EXPOSE 8000
# Liveness: /healthz answers without touching the database (the image has python, not curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)" || exit 1
# Indexes: run `flask --app wsgi init-db` once per release (docker-compose.yml's init-db service).
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]
