# The two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: install run test lint test-pg test-browser bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/motcua db upgrade
	$(BIN)/motcua run

test: install
	$(BIN)/python -m pytest -q

# ruff (rules and per-file exceptions in pyproject.toml) on everything, mypy on the packages
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# The database-facing tests again, on the PostgreSQL this machine runs.
test-pg: install
	MOTCUA_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -q -m db

# The staff desk in a real browser: Playwright for Python driving Debian's Chromium
# Needs `apt-get install chromium`; installs the `browser` extra (playwright). Never run
# `playwright install` (it downloads a browser build).
test-browser: install
	$(BIN)/python -m pip install --quiet -e '.[test,browser]'
	$(BIN)/python -m pytest -q -p no:cacheprovider tests_browser

bench: install
	$(BIN)/python benchmarks/pipeline.py

clean:
	rm -rf $(VENV) data/*.db
