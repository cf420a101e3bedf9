# One entry point for people and CI. `make run` and `make test` are the README's two commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-latest lint typecheck bench faults services clean lock alerts

# The venv holds exactly the hashed versions in requirements-dev.lock, then the project itself with
# --no-deps, so a fresh clone tests what was tested here. `make lock` moves the pins on purpose;
# `make test-latest` shows what the newest versions pyproject.toml allows would break.
$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

services:
	bash ops/ensure-services.sh

run: setup services
	$(BIN)/dravo-sync up

test: setup services alerts
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/vulture
	$(BIN)/mypy
	$(BIN)/pytest

lint: setup alerts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/vulture

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

# The hashed locks, resolved for CPython 3.11 on Linux: requirements-dev.lock (everything, for
# `make test`/`make run`) first, then requirements.lock (the runtime and the build backend, for
# ops/Dockerfile) with the same pins. `make lock` keeps existing pins where they still fit;
# `make lock UPGRADE=1` moves every pin to the newest allowed version. Commit both files.
TOOL_LOCK_FLAGS = --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade)
LOCK_FLAGS = $(TOOL_LOCK_FLAGS) --all-build-deps
lock: setup
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra dev --extra bench --output-file requirements-dev.lock pyproject.toml
	cp requirements-dev.lock requirements.lock
	$(BIN)/pip-compile $(LOCK_FLAGS) --output-file requirements.lock pyproject.toml
	$(BIN)/pip-compile $(TOOL_LOCK_FLAGS) --output-file tests/e2e/clients/py/generator.lock \
		tests/e2e/clients/py/generator.in

# What the newest versions that pyproject.toml allows would break: a throw-away venv resolved
# afresh (not from the lock), then the static checks and the unit tests. A CI job of its own, not
# part of .ci/run.
LATEST := .venv-latest
test-latest: services
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e '.[dev,bench]'
	$(LATEST)/bin/ruff check .
	$(LATEST)/bin/lint-imports
	$(LATEST)/bin/mypy
	$(LATEST)/bin/pytest tests/unit

bench: setup services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .mypy_cache .ruff_cache
