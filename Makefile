# The two commands a newcomer runs: `make demo` and `make test`. Both build .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgres bench bench-sync bench-outbox bench-gaps bench-nudges clean

# Rebuilt when pyproject.toml changes, so a new dependency reaches every checkout.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/coachbot demo

# The whole suite: SQLite always; PostgreSQL and the Maven data set when present (skipped with a reason otherwise).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest -m "not postgres" $(PYTEST_ARGS)

test-postgres: $(STAMP)
	$(BIN)/python -m pytest -m postgres $(PYTEST_ARGS)

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

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
