# The README's commands. `make demo` and `make test` do all of their own set-up on a fresh machine
# (Python 3.11, Java 17, Maven): a virtual environment, Kafka from Maven Central, PostgreSQL from Debian.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: help venv kafka postgres prometheus services stop demo test test-unit test-integration lint typecheck check clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)  ## create .venv and install the hub with its dev tools

kafka:  ## start the local KRaft broker (fetches jars on first use) and wait until it answers
	bash deploy/kafka.sh start
	bash deploy/kafka.sh wait

postgres:  ## install (Debian package) and start the local PostgreSQL
	bash deploy/postgres.sh start

prometheus:  ## install Prometheus and promtool (Debian package) and check and unit-test the alert rules
	bash deploy/prometheus.sh check

services: kafka postgres prometheus  ## start (or install) everything the tests need

stop:  ## stop the local services
	-bash deploy/kafka.sh stop
	-bash deploy/postgres.sh stop

demo: venv kafka  ## run the demo pipeline end to end on synthetic data and check it against ground truth
	$(BIN)/hub demo

test: venv services  ## lint, type-check, then run every test (unit and integration, real Kafka and PostgreSQL)
	$(BIN)/ruff check hub tests
	$(BIN)/mypy hub
	$(BIN)/python -m pytest

test-unit: venv  ## unit tests only (no services)
	$(BIN)/python -m pytest tests/unit

test-integration: venv services  ## integration tests only
	$(BIN)/python -m pytest tests/integration

lint: venv  ## ruff
	$(BIN)/ruff check hub tests

typecheck: venv  ## mypy on hub/
	$(BIN)/mypy hub

clean: stop  ## stop services and delete local state (.run/) and the venv
	rm -rf .run $(VENV)
