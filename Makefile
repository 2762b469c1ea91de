# The few commands a newcomer needs. `make run` and `make test` work from a fresh clone.
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
ADDRESS ?= 127.0.0.1
PYTHON ?= python3
# Two workers (one per core), one test file per worker at a time so a module's portal starts once.
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder --durations=15

.PHONY: run test lint format bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

DEMO ?= 1
# glibc gives each thread that allocates its own malloc arena (8 per core), and every Streamlit
# session's script runs in a thread: the freed memory of many arenas made the portal's RSS creep
# up in a soak (bench/README.md, "Soak"). Two arenas keep it flat.
MALLOC_ARENA_MAX ?= 2

## run: install, migrate, seed the demo organisation if the database is empty (DEMO=0: don't), start the portal
run: $(VENV)/.installed
	$(PY) -m kpialign init-db
	@if [ "$(DEMO)" = "1" ]; then $(PY) -m kpialign seed-demo --scale small --seed 7 --if-empty; fi
	MALLOC_ARENA_MAX=$(MALLOC_ARENA_MAX) $(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.address $(ADDRESS)

# test: bytecode is written even where PYTHONDONTWRITEBYTECODE is set (some containers set it): pytest
# then keeps its rewritten test modules in __pycache__, and each xdist worker collects in ~5 s
# instead of ~11 s; the portals and CLI subprocesses the tests start load compiled modules too.
## test: install dev requirements, lint, make sure Chromium, pdftotext, axe-core and PostgreSQL are there, run the whole suite
test: lint
	scripts/ensure_chromium.sh
	scripts/ensure_axe.sh
	PYTHONDONTWRITEBYTECODE= scripts/with_postgres.sh $(VENV)/bin/pytest $(PYTEST_ARGS)

## lint: ruff (lint and format), the layers contract (import-linter), mypy on core/ and services/
lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: the benchmarks (long; not part of the test suite)
bench: $(VENV)/.dev-installed
	scripts/with_postgres.sh sh -c 'for b in bench/bench_*.py; do $(PY) $$b || exit 1; done'

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
