# driftloop: `make` lists the targets. Every target is safe to run twice.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One owner of the uv version: the runtime install recipe (the image and the tests install through it).
UV_VERSION := $(shell sed -n "s/^UV_VERSION=//p" platform/driftloop/cluster/scripts/install-runtime.sh)
STAMP := $(VENV)/.installed
# Test groups run side by side (tests/conftest.py groups them by the expensive fixture they share).
TEST_WORKERS ?= 2
# The use case `make demo` plays (`driftloop use-case list`); unset: DRIFTLOOP_USE_CASE's, else fraud.
USE_CASE ?=
USE_CASE_ENV := $(if $(USE_CASE),DRIFTLOOP_USE_CASE=$(USE_CASE))

.PHONY: help install lock bench bench-full docs publish-bench demo local-up local-down status test e2e test-all test-unit test-fast coverage parity lint clean-state

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(STAMP) ## Create .venv from requirements.lock (bytecode compiled: every process starts faster; pip inside for kfp.local)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "driftloop needs Python >= 3.11; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)
	@echo "installed: $(BIN)/driftloop"

lock: ## Re-resolve requirements.lock from pyproject.toml, and the image's runtime-only lock from it (needs the venv)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--no-header --custom-compile-command "make lock" -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --constraint requirements.lock \
		--no-header --custom-compile-command "make lock" -o requirements-runtime.lock

bench: install ## Benchmarks, quick mode (about 18 min): JSON to bench/results/, a table to stdout
	$(BIN)/python -m bench.run

bench-full: install ## Benchmarks, full mode: more load, 1M drift rows, and the loop (the demo)
	$(BIN)/python -m bench.run --full

docs: install ## Regenerate the generated tables of README.md and docs/ (the settings, and bench tables from docs/results/*.json)
	$(BIN)/python -m bench.docs_tables

publish-bench: install ## Copy the latest result of BENCH=streaming-lift|gate-evidence|stream-freshness|search to docs/results/, then make docs
	@test -n "$(BENCH)" || { echo "usage: make publish-bench BENCH=streaming-lift|gate-evidence|stream-freshness|search"; exit 2; }
	$(BIN)/python -m bench.publish $(BENCH)
	$(BIN)/python -m bench.docs_tables

demo: install ## The whole loop from an empty state folder: train, serve, drift, retrain, serve v2 (leaves it running); USE_CASE=delivery for the other use case
	$(USE_CASE_ENV) $(BIN)/driftloop demo --reset

local-up: install ## Start the local platform (MLflow, Feast, Evidently UI, model servers, drift monitor)
	$(BIN)/driftloop local up

local-down: ## Stop every process of the local platform
	@if [ -x $(BIN)/driftloop ]; then $(BIN)/driftloop local down; else echo "nothing installed, nothing running"; fi

status: install ## Show each local service with URL, pid and health
	$(BIN)/driftloop local status

test: install ## The test suite: unit, contract, cluster (static), integration (real servers); test groups side by side (TEST_WORKERS, default 2)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder tests/unit tests/contract tests/cluster tests/integration

e2e: install ## The demo end to end from an empty state folder for each use case, every step of the loop asserted (about 5 minutes)
	$(BIN)/python -m pytest tests/e2e

test-all: test e2e parity ## Everything CI runs: make test, make e2e, make parity

test-unit: install ## Run the unit tests only
	$(BIN)/python -m pytest tests/unit

test-fast: install ## Unit and contract tests: pure logic and labelled stand-ins, no servers of ours (under a minute)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup tests/unit tests/contract

coverage: install ## Coverage of the pure modules by the fast tests (the module list: pyproject, tool.coverage.run)
	$(BIN)/coverage run -m pytest -q tests/unit tests/contract
	$(BIN)/coverage report

parity: install ## The chart's own containers run here against real PostgreSQL, Redis, Prometheus, Pushgateway (docs/cluster.md)
	$(BIN)/python -m pytest tests/parity

lint: install ## ruff, mypy and the layer contract (pyproject: tool.importlinter) over every package
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

clean-state: local-down ## Stop the platform and delete the local state folder (.driftloop)
	rm -rf .driftloop

include cluster.mk
.PHONY: up down cluster-status pipeline demo-cluster predict dashboards
