# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-runtime

.PHONY: run test lint typecheck format check migrate bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# `make run` needs the runtime dependencies only; the test and lint tools come with `make test`.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo "== installing Headwater and its runtime dependencies into $(VENV) (first run only)"
	$(BIN)/pip install --progress-bar on -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "== installing Headwater with its development tools into $(VENV)"
	$(BIN)/pip install --progress-bar on -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

## Start the service on 127.0.0.1:8000 (embedded PostgreSQL unless DATABASE_URL is set).
# exec: the service itself receives Ctrl-C and SIGTERM, stops cleanly and exits 0
run: $(RUN_STAMP)
	exec $(BIN)/headwater serve

## Install what is needed and run the whole test suite.
test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy app headwater_client

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: lint typecheck test

migrate: $(STAMP)
	$(BIN)/headwater migrate

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .headwater-test .pytest_cache .mypy_cache .ruff_cache
