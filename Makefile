# interview-service: `make run` and `make test` are all a newcomer needs (see README).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Separate stamps: `make run` installs what running needs, `make test` adds the test tools.
RUN_STAMP := $(VENV)/.installed-run
STAMP  := $(VENV)/.installed-dev
# SecantusDB's Rust server (secantusd-rs) ships in an older wheel: a tool environment of its
# own keeps the `embedded` extra's pin. `make run`, the wire tests and the bench prefer it, and
# fall back to secantusd-py without it (or with SECANTUS_SERVER=secantusd-py).
RS_VENV  := .venv-rs
RS_STAMP := $(RS_VENV)/.installed
RS_WHEEL := SecantusDB==0.6.0b17
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)
PIP    := $(BIN)/python -m pip install --progress-bar on
DEMO_USER ?= demo

REDOCLY := @redocly/cli@2.77.0
# npm packages (make lint, the generated-client test) are cached in the repository, not in HOME.
export npm_config_cache := $(CURDIR)/.cache/npm
export REDOCLY_TELEMETRY := off

.PHONY: install run seed token test e2e bench bench-quick stress lint openapi node chromium clean

install: $(STAMP) $(RS_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): setup.cfg pyproject.toml constraints.txt | $(VENV)/bin/python
	@echo "installing the service and the embedded database into $(VENV) (first time: a minute or two)"
	$(PIP) -c constraints.txt -e '.[embedded]'
	touch $@

$(STAMP): $(RUN_STAMP)
	@echo "installing the test tools into $(VENV)"
	$(PIP) -c constraints.txt -e '.[dev,embedded]'
	touch $@

# Optional: without it (no wheel for this platform) the servers fall back to secantusd-py.
$(RS_STAMP):
	@echo "installing secantusd-rs ($(RS_WHEEL)) into $(RS_VENV)"
	test -x $(RS_VENV)/bin/python || $(PYTHON) -m venv $(RS_VENV)
	$(RS_VENV)/bin/python -m pip install --progress-bar on '$(RS_WHEEL)' && touch $@ \
		|| echo "secantusd-rs unavailable: secantusd-py will be used"

run: $(RUN_STAMP) $(RS_STAMP)  ## start the service (embedded database unless MONGODB_URI is set)
	exec $(BIN)/python scripts/run.py

seed: $(RUN_STAMP)  ## add a demo history for DEMO_USER (demo) to the database `make run` started
	$(BIN)/flask --app wsgi seed-demo $(DEMO_USER)

token: $(RUN_STAMP)  ## print a development token for DEMO_USER (demo)
	@$(BIN)/flask --app wsgi issue-token $(DEMO_USER)

# Tests run on TEST_WORKERS processes (one per CPU, at most 4), each with a wire server of its
# own; the `slow` ones, which start processes and time them, run after them on their own.
TEST_WORKERS ?= auto --maxprocesses 4

test: $(STAMP) $(RS_STAMP) node chromium  ## run every test, on mongomock and on a SecantusDB wire server
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not slow and not stress"
	$(BIN)/python -m pytest -m "slow and not stress"

e2e: $(STAMP) $(RS_STAMP)  ## nginx → gunicorn → embedded database on loopback ports, then tests/e2e
	command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx \
		|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y nginx; }
	E2E=1 $(BIN)/python -m pytest tests/e2e -m e2e

bench: $(STAMP) $(RS_STAMP)  ## service vs plain Flask + pymongo under gunicorn, driven by wrk; writes docs/benchmarks.md
	@command -v wrk >/dev/null || { echo "make bench needs wrk (Debian: apt-get install -y wrk)"; exit 1; }
	$(BIN)/python -m bench.run

bench-quick: $(STAMP) $(RS_STAMP)  ## every bench target at reduced size, under 3 minutes; writes docs/benchmarks-quick.md
	@command -v wrk >/dev/null || { echo "make bench needs wrk (Debian: apt-get install -y wrk)"; exit 1; }
	BENCH_QUICK=1 $(BIN)/python -m bench.run

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
	rm -rf $(VENV) $(RS_VENV) var .pytest_cache .ruff_cache .cache *.egg-info
