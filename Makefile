# Plixo — `make run` (the app with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=
# The suite runs on every core (pytest-xdist): each worker gets its own database and Redis database (tests/workers.py).
# PYTEST_WORKERS=0 runs it in this one process, e.g. to debug one test: make test PYTEST_WORKERS=0 PYTEST_ARGS=tests/x.py
PYTEST_WORKERS ?= auto

.PHONY: run test install assets lint migrations-check worker clean

run: install assets
	$(PY) -m plixo.devserver

# Exit code 5 means pytest collected no tests: reported, not treated as a pass of nothing.
test: install assets
	@$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Plixo needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

assets: static/vendor/.installed

static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/chart.js/dist/chart.umd.min.js static/vendor/
	touch $@

lint: install
	$(VENV)/bin/ruff check .

migrations-check: install
	$(VENV)/bin/flask --app wsgi db check

worker: install
	$(PY) -m jobs.worker

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache
