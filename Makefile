# A newcomer needs two commands: `make run` and `make test`. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
# The embedded demo runs with DEBUG on and a throwaway secret; production sets its own.
DEMO_ENV := DEBUG=1 SHARE_BASE_URL=http://$(HOST):$(PORT)
TEST_ENV := SECRET_KEY=test-only-secret-key

.PHONY: run test test-all test-only lint format bench install lock demo clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## run: install, migrate the embedded SQLite database, load the demo (and share a demo
## learner's recap), serve on :8000
run: $(STAMP)
	mkdir -p var
	$(DEMO_ENV) $(PY) manage.py prepare_demo_database
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py load_demo --base-url http://$(HOST):$(PORT)
	$(DEMO_ENV) $(PY) manage.py share_demo
	$(DEMO_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

## test: lint, then the test suite (SQLite unless DATABASE_URL says otherwise), but for
## the tests marked slow; test-all runs those too (CI does)
test: lint test-only

test-all: lint
	$(MAKE) test-only PYTEST_MARKERS=

PYTEST_MARKERS ?= not slow
test-only: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -m "$(PYTEST_MARKERS)" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(TEST_ENV) $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: throughput/latency and import benchmarks on PostgreSQL (see docs/benchmarks.md)
bench: $(STAMP)
	bash bench/run.sh

## lock: re-pin requirements.txt from requirements.in in a scratch venv
lock:
	rm -rf var/lockenv && $(PYTHON) -m venv var/lockenv
	var/lockenv/bin/pip install --quiet -r requirements.in
	var/lockenv/bin/pip freeze --exclude pip > requirements.txt

clean:
	rm -rf $(VENV) var/db.sqlite3* staticfiles
