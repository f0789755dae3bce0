# Alert rules, Alertmanager routing and dashboards (collector-config/alerts, alertmanager,
# dashboards). promtool and amtool come from Debian's prometheus and prometheus-alertmanager
# packages; `monitoring-tools` installs them when missing (apt-get: as root, or with sudo).

.PHONY: monitoring-tools promtool alerts-test

monitoring-tools:  ## Install promtool and amtool (Debian packages) when missing.
	@tools/build-backends.sh $(CACHE_DIR) prometheus alertmanager >/dev/null
	@promtool --version 2>&1 | head -1
	@amtool --version 2>&1 | head -1

promtool: monitoring-tools

alerts-test: install monitoring-tools  ## promtool unit tests of the alert rules, amtool checks of the routing.
	promtool check rules collector-config/alerts/genai-sidecar.rules.yaml
	promtool test rules collector-config/alerts/tests/*.yaml
	$(PY) -m pytest tests/unit/test_alertmanager.py -q

# `make test` and `make unit` run tests/unit/test_alert_rules.py and test_alertmanager.py, and
# the chart's tests check the rules it ships: all need the tools before they start.
test unit helm-test: monitoring-tools
