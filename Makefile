# One entry point for people and CI. `make run` and `make test` are the README's two commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint typecheck bench faults services clean lock alerts

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

setup: $(STAMP)

services:
	bash ops/ensure-services.sh

run: setup services
	$(BIN)/dravo-sync up

test: setup services alerts
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest

lint: setup alerts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The Prometheus alert rules and their unit tests (docs/monitoring.md); promtool is installed
# from the distribution's package when missing.
alerts:
	bash ops/ensure-promtool.sh
	promtool check rules ops/prometheus/alerts.yml
	cd ops/prometheus && promtool test rules alerts_test.yml

typecheck: setup
	$(BIN)/mypy

# The fault-injection and bad-input suite (docs/faults.md), ~16 minutes: 10,000 fuzz cases per
# normaliser/classifier, then tests/faults (crashes, outages, 5-minute soak, schemathesis).
faults: setup services
	DRAVO_FUZZ_EXAMPLES=10000 $(BIN)/pytest --timeout 1800 tests/unit/adapters/test_properties.py
	$(BIN)/pytest -m faults tests/faults

# The image's hashed lock (ops/Dockerfile installs it with --require-hashes): the runtime
# dependencies and the build backend, resolved for CPython 3.11 on Linux. Re-run after changing
# pyproject.toml's dependencies, and commit the result.
lock: setup
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --all-build-deps --strip-extras \
		--no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

bench: setup services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
