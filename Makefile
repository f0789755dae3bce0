# genai-sidecar: every target builds what it needs. Builds and downloads are cached outside the
# repo in CACHE_DIR (Go module and build caches, the collector binary keyed by its manifest).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CACHE_DIR ?= $(HOME)/.cache/genai-sidecar
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Every Python dependency is installed from the lock (requirements/requirements-dev.txt: exact versions and
# hashes, resolved by `make lock`), never resolved afresh. The venv is rebuilt from nothing when
# the lock or pyproject.toml changes, so it holds exactly what the lock says.
LOCK := requirements/requirements-dev.txt
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | sha256sum | cut -c1-12)
# The collector binary's path; building it when missing (see tools/build-collector.sh).
COLLECTOR = $$(tools/build-collector.sh $(CACHE_DIR))

.PHONY: help install lock collector run run-local test unit integration bench lint clean ci-cold

# Feature areas add their targets in mk/*.mk (included below, after the core targets).

help:  ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(LOCK)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --no-deps -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

install: $(STAMP)  ## Create .venv from the lock (requirements/requirements-dev.txt) and install the package.

# Resolving is done on purpose only: `make lock` takes the newest versions pyproject.toml allows;
# `make lock PACKAGE=name` upgrades that one package and keeps every other pin. The runtime lock
# (the container image's) is resolved within the dev lock, so the image ships exactly the
# versions the tests ran with.
UV_COMPILE = $(VENV)/bin/uv pip compile -q --python-version 3.11 --generate-hashes
lock: install  ## Re-resolve requirements/*.txt from pyproject.toml (PACKAGE=name: only that one).
	$(UV_COMPILE) $(if $(PACKAGE),--upgrade-package $(PACKAGE),--upgrade) \
	  --extra test --extra dev --extra e2e -o requirements/requirements-dev.txt pyproject.toml requirements/build.in
	$(UV_COMPILE) -c requirements/requirements-dev.txt -o requirements/requirements-runtime.txt \
	  pyproject.toml requirements/build.in
	@echo "locked: run make test and make e2e, then commit requirements/ with the reason"

collector:  ## Build the OpenTelemetry Collector distribution (cached in CACHE_DIR).
	@tools/build-collector.sh $(CACHE_DIR)

run: install  ## Start the local stack (backends, collector, sidecar) in the background; `make stop` stops it.
	OTELCOL_BIN=$(COLLECTOR) tools/stack.sh start

run-local: install  ## Only the collector and the sidecar, output to the debug exporter (no backends).
	OTELCOL_BIN=$(COLLECTOR) tools/run-local.sh

test: install  ## Unit and integration tests (real collector).
	OTELCOL_BIN=$(COLLECTOR) $(PY) -m pytest tests/unit tests/integration -q

unit: install  ## Unit tests only (no collector, no network).
	$(PY) -m pytest tests/unit -q

integration: install  ## Integration tests with the real collector.
	OTELCOL_BIN=$(COLLECTOR) $(PY) -m pytest tests/integration -q

bench: install  ## Benchmarks; prints tables and rewrites docs/PERFORMANCE.md's figures.
	OTELCOL_BIN=$(COLLECTOR) $(PY) -m bench

lint: install  ## Ruff.
	$(VENV)/bin/ruff check sidecar processors tests bench

clean:  ## Remove the venv and caches inside the repo (CACHE_DIR is kept).
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info

include $(sort $(wildcard mk/*.mk))

ci-cold:  ## .ci/run on a fresh clone with an empty cache and a fresh venv (as a new machine).
	tools/ci-cold.sh
