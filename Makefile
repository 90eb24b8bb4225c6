# interview-service: `make run` and `make test` are all a newcomer needs (see README).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

REDOCLY := @redocly/cli@2.77.0
# npm packages (make lint, the generated-client test) are cached in the repository, not in HOME.
export npm_config_cache := $(CURDIR)/.cache/npm
export REDOCLY_TELEMETRY := off

.PHONY: install run test e2e bench stress lint openapi node chromium clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,embedded]'
	touch $(STAMP)

run: $(STAMP)  ## start the service (embedded database unless MONGODB_URI is set)
	exec $(BIN)/python scripts/run.py

test: $(STAMP) node chromium  ## run every test, on mongomock and on a SecantusDB wire server
	$(BIN)/python -m pytest

e2e: $(STAMP)  ## nginx → gunicorn → embedded database on loopback ports, then tests/e2e
	command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx \
		|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y nginx; }
	E2E=1 $(BIN)/python -m pytest tests/e2e -m e2e

bench: $(STAMP)  ## service vs plain Flask + pymongo under gunicorn, driven by wrk; writes docs/benchmarks.md
	@command -v wrk >/dev/null || { echo "make bench needs wrk (Debian: apt-get install -y wrk)"; exit 1; }
	$(BIN)/python -m bench.run

stress: $(STAMP)  ## slow reliability runs: gunicorn through a database outage, live schemathesis, integrity races
	$(BIN)/python -m pytest -m stress

lint: $(STAMP) node
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/flask --app wsgi openapi print | diff -u docs/openapi.json - \
		|| { echo "docs/openapi.json is out of date: run make openapi"; exit 1; }
	npx --yes $(REDOCLY) lint docs/openapi.json

openapi: $(STAMP)  ## write the API document the SPA generates its client from
	$(BIN)/flask --app wsgi openapi write docs/openapi.json

node:  ## node and npm (make lint, the generated-client test)
	command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y nodejs npm; }

chromium:  ## headless Chromium (the Swagger UI test)
	command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .cache *.egg-info
