# Real backends (Jaeger v2, Tempo, Loki, Prometheus), the local stack and the end-to-end suite.
# Builds are cached in CACHE_DIR/backends/<name>-<version> (tools/build-backends.sh).
E2E_STAMP := $(VENV)/.e2e-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: backends e2e stop status demo

$(E2E_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,dev,e2e]'
	rm -f $(VENV)/.e2e-*
	touch $@

backends:  ## Build or install the pinned Jaeger, Tempo, Loki and Prometheus (cached in CACHE_DIR).
	@tools/build-backends.sh $(CACHE_DIR)

e2e: install $(E2E_STAMP) backends  ## End-to-end: real traffic through collector, sidecar and the four backends.
	OTELCOL_BIN=$(COLLECTOR) $(PY) -m pytest tests/e2e -q

stop:  ## Stop the local stack started by `make run`.
	@tools/stack.sh stop

status:  ## Show which processes of the local stack are running and ready.
	@tools/stack.sh status

demo: $(E2E_STAMP)  ## Send realistic LLM traffic (three instrumentation libraries, PII in prompts) to `make run`'s stack.
	@tools/stack.sh status >/dev/null || { tools/stack.sh status || true; echo "start the stack first: make run"; exit 1; }
	$(PY) -m tests.e2e.demo
