# genai-sidecar: every target builds what it needs. Builds and downloads are cached outside the
# repo in CACHE_DIR (Go module and build caches, the collector binary keyed by its manifest).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CACHE_DIR ?= $(HOME)/.cache/genai-sidecar
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
# The collector binary's path; building it when missing (see tools/build-collector.sh).
COLLECTOR = $$(tools/build-collector.sh $(CACHE_DIR))

.PHONY: help install collector run run-local test unit integration bench lint clean

# Feature areas add their targets in mk/*.mk (included below, after the core targets).

help:  ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)  ## Create .venv and install the package (editable) with test tools.

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
