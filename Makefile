# The two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: install compiled run test lint test-pg test-browser bench clean

# The search engine compiled: procedures/search.py with mypyc (the same code, ~20 % faster a
# query) and its two passes over many postings and surfaces (choosing the candidates, bounding
# them: procedures/_passes.pyx) with Cython. Where they cannot be built (no C compiler) the pure
# Python module and its numpy sums run, with the same results.
SUFFIX := $(shell $(PYTHON) -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
COMPILED := procedures/search$(SUFFIX)
PASSES := procedures/_passes$(SUFFIX)

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 'setuptools>=77'
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

$(COMPILED): procedures/search.py procedures/_passes.pyi $(BIN)/.installed
	@echo "compiling procedures/search.py (mypyc, ~40 s)"
	@mkdir -p build
	@($(BIN)/mypyc procedures/search.py >build/mypyc.log 2>&1 && touch $@) \
		|| (rm -f procedures/search*.so; echo "not compiled (see build/mypyc.log): the pure Python search runs")

$(PASSES): procedures/_passes.pyx $(BIN)/.installed
	@echo "compiling procedures/_passes.pyx (Cython, ~15 s)"
	@mkdir -p build
	@($(BIN)/cythonize -i -3 procedures/_passes.pyx >build/cython.log 2>&1 && touch $@) \
		|| (rm -f procedures/_passes*.so; echo "not compiled (see build/cython.log): numpy takes the sums")

compiled: $(COMPILED) $(PASSES)

run: install compiled
	$(BIN)/motcua db upgrade
	$(BIN)/motcua run

test: install compiled
	$(BIN)/python -m pytest -q

# ruff (rules and per-file exceptions in pyproject.toml) on everything, mypy on the packages
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# The database-facing tests again, on the PostgreSQL this machine runs.
test-pg: install compiled
	MOTCUA_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -q -m db

# The staff desk in a real browser: Playwright for Python driving Debian's Chromium
# Needs `apt-get install chromium`; installs the `browser` extra (playwright). Never run
# `playwright install` (it downloads a browser build).
test-browser: install compiled
	$(BIN)/python -m pip install --quiet -e '.[test,browser]'
	$(BIN)/python -m pytest -q -p no:cacheprovider tests_browser

bench: install compiled
	$(BIN)/python benchmarks/pipeline.py

clean:
	rm -rf $(VENV) data/*.db build procedures/*.so procedures/_passes.c
