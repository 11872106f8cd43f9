# The two commands a newcomer runs: `make demo` and `make test`. Both build .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS_STAMP := $(VENV)/.installed-tools
# The versions CI tests, generated from pyproject.toml by `make lock`.
CONSTRAINTS := constraints.txt
LOWEST := .venv-lowest

.PHONY: demo test test-sqlite test-postgres test-lowest tools lint lock bench bench-sync bench-outbox bench-gaps bench-nudges bench-backtest clean

# Rebuilt when pyproject.toml or the constraints change, so a new dependency reaches every checkout.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[test]'
	touch $(STAMP)

# ruff, build and uv (the `dev` extra), for `make lint`, `make lock`, `make test-lowest` and .ci/run.
$(TOOLS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[test,dev]'
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

demo: $(STAMP)
	$(BIN)/coachbot demo

# The whole suite: SQLite always; PostgreSQL and the Maven data set when present (skipped with a reason otherwise).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest -m "not postgres" $(PYTEST_ARGS)

test-postgres: $(STAMP)
	$(BIN)/python -m pytest -m postgres $(PYTEST_ARGS)

# The suite against the lowest versions pyproject.toml allows for each direct dependency, in a
# separate virtual environment; proves the lower bounds are true.
test-lowest: $(TOOLS_STAMP)
	rm -rf $(LOWEST)
	$(BIN)/uv venv --quiet --python $(PYTHON) $(LOWEST)
	$(BIN)/uv pip install --quiet --python $(LOWEST)/bin/python --resolution lowest-direct -e '.[test]'
	$(LOWEST)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(TOOLS_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-pin constraints.txt from pyproject.toml, keeping pins that still fit; LOCK_ARGS=--upgrade takes the newest of everything.
lock: $(TOOLS_STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra test --extra dev --python-version 3.11 \
		--custom-compile-command "make lock" --quiet -o $(CONSTRAINTS) $(LOCK_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.myperf

bench-sync: $(STAMP)
	$(BIN)/python -m bench.sync

bench-outbox: $(STAMP)
	$(BIN)/python -m bench.outbox

bench-gaps: $(STAMP)
	$(BIN)/python -m bench.gap_scan

bench-nudges: $(STAMP)
	$(BIN)/python -m bench.nudges

bench-backtest: $(STAMP)
	$(BIN)/python -m bench.backtest

clean:
	rm -rf $(VENV) $(LOWEST) *.egg-info .pytest_cache
