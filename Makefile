# atmosphere — developer entry points. `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PDS_DIR := fixtures/pds

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install pds-install browser test test-unit test-pds test-atdata demo lint typecheck check bench clean unasync check-generated

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

## browser: Debian's chromium + chromium-driver for the OAuth sign-in page test (apt, when missing)
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		echo "browser: installing chromium and chromium-driver (apt-get, about 120 MB) ..."; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

## test: unit and real-PDS integration tests together (and generated sync code up to date)
test: install pds-install browser check-generated
	$(BIN)/python -m pytest

## unasync: regenerate the sync modules from their async sources (scripts/unasync.py)
unasync: install
	$(BIN)/python scripts/unasync.py

check-generated: install
	$(BIN)/python scripts/unasync.py --check

## test-unit: the unit tier (tests/unit: no PDS, no network beyond loopback fakes)
test-unit: install
	$(BIN)/python -m pytest tests/unit

## test-pds: the real-PDS tier (tests/pds, marked pds)
test-pds: install pds-install browser
	$(BIN)/python -m pytest tests/pds

## test-atdata: atdata's own flows (0.3 and 0.7 from PyPI) with our clients, in .venv-atdata/ (Python >= 3.12; ATDATA_ARGS=... for the script)
test-atdata: pds-install
	$(PYTHON) scripts/test_atdata.py $(ATDATA_ARGS)

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
	rm -rf $(VENV) .venv-atdata $(PDS_DIR)/node_modules $(PDS_DIR)/.node .mypy_cache .ruff_cache .pytest_cache

# -- release checks (issue 16): each one is also run by .ci/run after `make test` ----------
.PHONY: test-floor test-matrix check-docs check-dist check-vendored docs

## test-floor: unit tests on the oldest allowed httpx, pydantic, dnspython (Python 3.10; .venv-test/floor)
test-floor:
	$(PYTHON) scripts/test_envs.py floor

## test-matrix: unit tests on Python 3.10, 3.11, 3.12 and 3.13 (pyenv or pythonX.Y; a missing one fails)
test-matrix:
	$(PYTHON) scripts/test_envs.py matrix

## check-docs: every README code block: python ones mypy --strict'd and run against the test PDS
check-docs: install pds-install
	$(BIN)/python scripts/check_docs.py

## check-dist: build the sdist and wheel, run the unpacked sdist's unit tests against the wheel
check-dist: install
	$(BIN)/python scripts/check_dist.py

## check-vendored: import and drive the package from a renamed copy (myapp/_vendor/atmosphere)
check-vendored: install pds-install
	$(BIN)/python scripts/check_vendored.py

## docs: the API reference and guides (Sphinx) in docs/_build/html; warnings are errors
docs: install
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
