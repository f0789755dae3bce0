"""``make demo``: realistic traffic into the running local stack (``make run``).

Starts the fake LLM server, runs each instrumentation library (tests/e2e/traffic.py, one process
each) against the collector, and prints where to look at the result in each backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import uuid

from tests.e2e.fake_llm import FakeLLM
from tests.e2e.traffic import LIBRARIES

COST_QUERY = "sum by (service_name) (gen_ai_client_operation_cost_USD_sum)"


def main() -> int:
    otlp = os.environ.get("COLLECTOR_OTLP_GRPC_ENDPOINT", "127.0.0.1:4317")
    jaeger = os.environ.get("JAEGER_QUERY_HTTP_ENDPOINT", "127.0.0.1:16686")
    logs = os.environ.get("VICTORIALOGS_HTTP_ENDPOINT", "127.0.0.1:9428")
    alertmanager = os.environ.get("ALERTMANAGER_ENDPOINT", "127.0.0.1:9093")
    prometheus = os.environ.get("PROMETHEUS_ENDPOINT", "127.0.0.1:9090")
    run_id = uuid.uuid4().hex[:8]
    with FakeLLM() as llm:
        for library in LIBRARIES:
            out = subprocess.run(
                [sys.executable, "-m", "tests.e2e.traffic", "--library", library,
                 "--otlp", otlp, "--llm", llm.base_url, "--service", f"demo-{library}",
                 "--run-id", run_id],
                check=True, capture_output=True, text=True,
            )
            sent = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{library:14} service {sent['service']}: {len(sent['trace_ids'])} traces, "
                  f"e.g. {sent['trace_ids'][0]}")
    trace = sent["trace_ids"][0]
    logsql = urllib.parse.quote(f'"service.name":="demo-{LIBRARIES[0]}"')
    print(f"""
Personal data in the prompts (must appear nowhere): {', '.join(sent['pii'])}
Look at it:
  Jaeger (API)   http://{jaeger}/api/traces/{trace}
  VictoriaLogs   http://{logs}/select/vmui/?query={logsql}
                 http://{logs}/select/logsql/query?query={logsql}
  Prometheus     http://{prometheus}/classic/graph?g0.expr={urllib.parse.quote(COST_QUERY)}
                 http://{prometheus}/classic/alerts
  Alertmanager   http://{alertmanager}/#/alerts
Metrics reach Prometheus within a few seconds (the sidecar's export period plus one scrape).""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
