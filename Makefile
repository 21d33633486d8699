# Developer entry points. Each target creates the virtual environment it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
BENCH_STAMP := $(VENV)/.installed-bench
RELEASE_STAMP := $(VENV)/.installed-release

.PHONY: demo test docs bench bench-quick release-check lint typecheck check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: start the local Cognito stand-in, sign in, call the API, show a refresh and a 401 retry
demo: $(STAMP)
	$(BIN)/python examples/quickstart.py

## test: the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

# The docs tools (the `docs` extra) go into the same venv, only when `make docs` needs them.
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

## docs: build the documentation site into site/; any warning (a broken link, a bad docstring) fails
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The alternatives we compare against (the `bench` extra), only for the benchmarks.
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

## bench: every figure of docs/performance.md, several rounds each (a few minutes)
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

## bench-quick: the same figures in under a minute (CI runs it so the runner cannot rot)
bench-quick: $(BENCH_STAMP)
	$(BIN)/mypy --strict benchmarks
	$(BIN)/python -m benchmarks --quick
	$(BIN)/python -m benchmarks.testing_startup --rounds 1 --users 5

# The release tools (the `release` extra), only for release-check.
$(RELEASE_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[release]'
	touch $(RELEASE_STAMP)

## release-check: build the sdist and the wheel into dist/ and check them with twine; uploads nothing
release-check: $(RELEASE_STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks tools
	$(BIN)/ruff format --check src tests examples benchmarks tools

typecheck: $(STAMP)
	$(BIN)/mypy --strict src examples

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site dist
