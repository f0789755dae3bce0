# Alert rules and dashboards (collector-config/alerts, collector-config/dashboards).
# promtool comes from Debian's prometheus package; `promtool` installs it when missing.
PROMTOOL ?= promtool

.PHONY: promtool alerts-test

promtool:  ## Install promtool (Debian package prometheus) when it is missing.
	@command -v $(PROMTOOL) >/dev/null 2>&1 || { \
	  echo "installing promtool (apt package prometheus)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends prometheus; }
	@$(PROMTOOL) --version 2>&1 | head -1

alerts-test: promtool  ## promtool unit tests of the alert rules and checks of the dashboards' queries.
	$(PROMTOOL) check rules collector-config/alerts/genai-sidecar.rules.yaml
	$(PROMTOOL) test rules collector-config/alerts/tests/*.yaml

# `make test`, `make unit` run tests/unit/test_alert_rules.py, which needs promtool.
test unit: promtool
