# Real backends (Jaeger v2, VictoriaLogs, Prometheus, Alertmanager; Tempo and Loki only as binaries
# of your own, TEMPO_BIN / LOKI_BIN), the local stack and the end-to-end suite.
# Go builds are cached in CACHE_DIR/backends/<name>-<version> (tools/build-backends.sh).
# The instrumentation libraries of the e2e extra are in the one lock `make install` installs.

.PHONY: backends e2e stop status demo

backends:  ## Build or install the pinned Jaeger, VictoriaLogs, Prometheus and Alertmanager.
	@tools/build-backends.sh $(CACHE_DIR)

e2e: install backends  ## End-to-end: real traffic through collector, sidecar and the backends.
	OTELCOL_BIN=$(COLLECTOR) $(PY) -m pytest tests/e2e -q

stop:  ## Stop the local stack started by `make run`.
	@tools/stack.sh stop

status:  ## Show which processes of the local stack are running and ready.
	@tools/stack.sh status

demo: install  ## Send realistic LLM traffic (three instrumentation libraries, PII in prompts) to `make run`'s stack.
	@tools/stack.sh status >/dev/null || { tools/stack.sh status || true; echo "start the stack first: make run"; exit 1; }
	$(PY) -m tests.e2e.demo
