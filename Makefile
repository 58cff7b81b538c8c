# atmosphere — developer entry points. `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PDS_DIR := fixtures/pds

.PHONY: install pds-install test test-unit test-pds demo lint typecheck check bench clean unasync check-generated

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## install: the package (editable) plus test and lint tools, in ./.venv
install: $(VENV)/.installed

## pds-install: the pinned reference PDS for integration tests (npm registry only)
pds-install:
	bash $(PDS_DIR)/install.sh

## test: unit and real-PDS integration tests together (and generated sync code up to date)
test: install pds-install check-generated
	$(BIN)/python -m pytest

## unasync: regenerate the sync modules from their async sources (scripts/unasync.py)
unasync: install
	$(BIN)/python scripts/unasync.py

check-generated: install
	$(BIN)/python scripts/unasync.py --check

test-unit: install
	$(BIN)/python -m pytest -m 'not pds'

test-pds: install pds-install
	$(BIN)/python -m pytest -m pds

## demo: start a local PDS and walk the client through an atdata publishing flow
demo: install pds-install
	$(BIN)/python examples/run_demo_local.py

lint: install
	$(BIN)/ruff check src tests examples benchmarks scripts
	$(BIN)/ruff format --check src tests examples benchmarks scripts

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

## bench: atmosphere vs the atproto SDK vs raw httpx -> benchmarks/RESULTS.md + the README table (BENCH_ARGS=--quick)
bench: install pds-install
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(PDS_DIR)/node_modules $(PDS_DIR)/.node .mypy_cache .ruff_cache .pytest_cache
