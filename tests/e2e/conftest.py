"""The end-to-end stack: real backends, collector and sidecar on free ports, real traffic.

One stack per session (tools/stack.sh, the same script as ``make run``) in a temporary run
directory; every address comes from a free port. The backends are the permissively licensed
ones the project builds (Jaeger, VictoriaLogs, Prometheus, Alertmanager); Grafana Tempo and Loki
join only when TEMPO_BIN / LOKI_BIN name binaries of the user's own, else their tests are
skipped with the reason. Alertmanager's receivers are webhooks served by this process
(`AlertWebhook`), so an alert is followed from traffic to the receiver it was routed to.
Traffic (tests/e2e/traffic.py: the OpenAI SDK with real instrumentation libraries against
tests/e2e/fake_llm.py) is sent in two waves, the second after Prometheus has scraped the
first, so rate() over the series has an increase.
Readiness and arrival are awaited by polling each backend's HTTP API with a deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from sidecar import semconv
from tests.e2e.fake_llm import FakeLLM
from tests.e2e.traffic import AGENT_MODEL_CALLS, LIBRARIES
from tests.harness import ROOT, collector_bin, free_port
from tests.promtool import RULES_FILE

T = TypeVar("T")

#: Deadline for data to show up in a backend: the sidecar's metrics export period (15 s by
#: default), a scrape, the log store's ingestion, on a busy 2-core machine.
ARRIVAL_TIMEOUT = 240.0
POLL_INTERVAL = 0.5


def poll(fetch: Callable[[], T | None], what: str, timeout: float = ARRIVAL_TIMEOUT) -> T:
    """Call ``fetch`` until it returns something truthy; fail naming ``what`` at the deadline.

    ``fetch`` may raise AssertionError or an HTTP error while the data is not there yet; the
    last such error is shown on timeout.
    """
    end = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = fetch()
            if value:
                return value
        except (AssertionError, urllib.error.URLError, ConnectionError, KeyError) as exc:
            last = exc
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                                 + (f"; last error: {last}" if last else ""))
        time.sleep(POLL_INTERVAL)  # polling interval between tries, not a synchronisation wait


def get_json(url: str, params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> Any:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def get_text(url: str, params: dict[str, Any] | None = None) -> str:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


@dataclass
class Stack:
    """Where the private stack listens."""

    env: dict[str, str]
    run_dir: Path

    @property
    def otlp(self) -> str:
        return self.env["COLLECTOR_OTLP_GRPC_ENDPOINT"]

    @property
    def jaeger(self) -> str:
        return f"http://{self.env['JAEGER_QUERY_HTTP_ENDPOINT']}"

    @property
    def victorialogs(self) -> str:
        return f"http://{self.env['VICTORIALOGS_HTTP_ENDPOINT']}"

    @property
    def alertmanager(self) -> str:
        return f"http://{self.env['ALERTMANAGER_ENDPOINT']}"

    @property
    def tempo(self) -> str:
        if not self.env.get("TEMPO_BIN"):
            pytest.skip(OPTIONAL_BACKENDS["TEMPO_BIN"])
        return f"http://127.0.0.1:{self.env['TEMPO_HTTP_PORT']}"

    @property
    def loki(self) -> str:
        if not self.env.get("LOKI_BIN"):
            pytest.skip(OPTIONAL_BACKENDS["LOKI_BIN"])
        return f"http://127.0.0.1:{self.env['LOKI_HTTP_PORT']}"

    @property
    def prometheus(self) -> str:
        return f"http://{self.env['PROMETHEUS_ENDPOINT']}"

    def promql(self, query: str) -> list[dict[str, Any]]:
        """An instant query's result vector (empty when nothing matches)."""
        body = get_json(f"{self.prometheus}/api/v1/query", {"query": query})
        assert body["status"] == "success", body
        return body["data"]["result"]


@dataclass
class Sent:
    """What the traffic app sent, per library."""

    service: str
    trace_ids: list[str] = field(default_factory=list)
    #: trace id -> the kind of call it describes (tests/e2e/traffic.py SDK_CALLS)
    calls: dict[str, str] = field(default_factory=dict)
    #: trace id -> how many model calls it holds (each gets an inference record)
    model_calls: dict[str, int] = field(default_factory=dict)
    pii: list[str] = field(default_factory=list)


#: The AGPL backends the project never builds: why their tests are skipped without them.
OPTIONAL_BACKENDS = {
    "TEMPO_BIN": "Grafana Tempo is AGPL-licensed and not built here; set TEMPO_BIN to a tempo "
                 "binary of your own to run the Tempo tests",
    "LOKI_BIN": "Grafana Loki is AGPL-licensed and not built here; set LOKI_BIN to a loki "
                "binary of your own to run the Loki tests",
}
#: The daily budget (USD) of the e2e run's copy of the alert rules: far below what the traffic
#: spends, so GenAIDailyBudgetExceeded fires on real traffic and travels to the FinOps receiver.
E2E_DAILY_BUDGET = 1e-6


class AlertWebhook:
    """Alertmanager's webhook receivers (``/pager``, ``/ops``, ``/finops``), served here.

    Every notification is kept as (path, parsed JSON body); reads and writes take a lock, the
    server runs on its own thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[tuple[str, dict[str, Any]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._lock:
                    hook._received.append((self.path, json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def received(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self._received)

    def __enter__(self) -> AlertWebhook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _rules_with_budget(path: Path, daily_usd: float) -> Path:
    """A copy of the alert rules whose daily budget recording rule is ``daily_usd``."""
    doc = yaml.safe_load(RULES_FILE.read_text("utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("record") == "genai:budget_daily_usd":
                rule["expr"] = f"vector({daily_usd})"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return path


#: Model calls one conversation may make before it is a runaway session, in the e2e config:
#: the manual agent's conversation crosses it in the second wave.
E2E_SESSION_CALLS = 2 * AGENT_MODEL_CALLS - 1


def _sidecar_config(path: Path) -> Path:
    """The embedded default config with shorter timers and lower limits, so that two waves of
    traffic exercise every derived output: runs roll up after 2 s idle instead of 30 s; the
    manual agent's run (AGENT_MODEL_CALLS model calls) is a runaway, its conversation a runaway
    session in the second wave; its one-word verdict on a long report is a low-yield call; a
    team and a feature of the traffic have budgets (the FinOps budget panels)."""
    doc = yaml.safe_load((ROOT / "sidecar" / "default.yaml").read_text("utf-8"))
    doc["processors"]["genai_calls"] = {
        "run_idle": "2s", "runaway_calls": AGENT_MODEL_CALLS,
        "runaway_session_calls": E2E_SESSION_CALLS}
    # Budgets far above the traffic's spend: the budget panels have series, no budget alert.
    doc["processors"]["genai_metrics"] = {
        "low_yield_min_input_tokens": 1000,
        "budgets": [
            {"dimension": "team", "value": "support", "daily": 1000, "currency": "USD"},
            {"dimension": "feature", "value": "tickets-manual", "daily": 1000,
             "monthly": 20000, "currency": "USD"}]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return path


def _stack_env(run_dir: Path, webhook: AlertWebhook) -> dict[str, str]:
    def addr() -> str:
        return f"127.0.0.1:{free_port()}"

    optional = {}
    if os.environ.get("TEMPO_BIN"):
        optional |= {name: str(free_port()) for name in (
            "TEMPO_HTTP_PORT", "TEMPO_GRPC_PORT", "TEMPO_MEMBERLIST_PORT", "TEMPO_OTLP_GRPC_PORT")}
    if os.environ.get("LOKI_BIN"):
        optional |= {name: str(free_port()) for name in ("LOKI_HTTP_PORT", "LOKI_GRPC_PORT")}
    return {
        **os.environ,
        **optional,
        "STACK_RUN_DIR": str(run_dir),
        "OTELCOL_BIN": collector_bin(),
        "SIDECAR_BIN": str(Path(sys.executable).with_name("genai-sidecar")),
        "SIDECAR_CONFIG": str(_sidecar_config(run_dir / "sidecar.yaml")),
        "COLLECTOR_OTLP_GRPC_ENDPOINT": addr(),
        "COLLECTOR_OTLP_HTTP_ENDPOINT": addr(),
        "COLLECTOR_HEALTH_ENDPOINT": addr(),
        "COLLECTOR_ENRICHED_ENDPOINT": addr(),
        "COLLECTOR_PROMETHEUS_ENDPOINT": addr(),
        "SIDECAR_ENDPOINT": addr(),
        "SIDECAR_METRICS_ENDPOINT": addr(),
        "JAEGER_OTLP_GRPC_ENDPOINT": addr(),
        "JAEGER_QUERY_HTTP_ENDPOINT": addr(),
        "JAEGER_QUERY_GRPC_ENDPOINT": addr(),
        "JAEGER_HEALTH_ENDPOINT": addr(),
        "VICTORIALOGS_HTTP_ENDPOINT": addr(),
        "PROMETHEUS_ENDPOINT": addr(),
        "PROMETHEUS_SCRAPE_INTERVAL": "1s",
        "GENAI_RULES_FILE": str(_rules_with_budget(run_dir / "rules.yaml", E2E_DAILY_BUDGET)),
        "ALERTMANAGER_ENDPOINT": addr(),
        "ALERT_WEBHOOK_URL": webhook.url,
        "ALERT_GROUP_WAIT": "1s",
        "ALERT_CRITICAL_GROUP_WAIT": "1s",
        "ALERT_GROUP_INTERVAL": "2s",
    }


@pytest.fixture(scope="session")
def alert_webhook() -> Iterator[AlertWebhook]:
    with AlertWebhook() as hook:
        yield hook


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory,
          alert_webhook: AlertWebhook) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("stack")
    env = _stack_env(run_dir, alert_webhook)
    script = str(ROOT / "tools" / "stack.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True,
                             timeout=900, check=False)
    if started.returncode != 0:
        pytest.fail(f"tools/stack.sh start failed ({started.returncode}):\n"
                    f"{started.stdout[-3000:]}\n{started.stderr[-6000:]}", pytrace=False)
    try:
        yield Stack(env=env, run_dir=run_dir)
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, text=True, timeout=300,
                       check=False)


def _send(stack: Stack, llm: FakeLLM, library: str, service: str, run_id: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.e2e.traffic", "--library", library, "--otlp", stack.otlp,
         "--llm", llm.base_url, "--service", service, "--run-id", run_id],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, f"traffic ({library}) failed:\n{out.stderr[-4000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def await_calls_counted(stack: Stack, expected: dict[str, int]) -> None:
    """Wait until Prometheus counts, for every service, the calls it made so far.

    The sidecar records a span's metrics when it processes the span and exports the totals
    every interval, so one export (and one scrape) may hold some services and not others:
    waiting for "any series" is not enough.
    """
    query = (f'sum by (service_name) ({semconv.PROM_REQUESTS}'
             f'{{service_name=~"{"|".join(expected)}"}})')

    def done() -> bool:
        counted = {r["metric"]["service_name"]: float(r["value"][1])
                   for r in stack.promql(query)}
        short = {service: counted.get(service, 0.0) for service, calls in expected.items()
                 if counted.get(service, 0.0) < calls}
        assert not short, f"counted so far, below the calls made: {short}"
        return True

    poll(done, f"{semconv.PROM_REQUESTS} per service >= {expected} in Prometheus")


def await_runs_rolled_up(stack: Stack, service: str) -> None:
    """Wait until Prometheus holds the run roll-ups of ``service``'s first wave, so that the
    second wave's runs are an increase rate() can see (a series is born at its first value)."""
    query = f'sum({semconv.PROM_TRACE_CALLS}_count{{service_name="{service}"}})'
    poll(lambda: stack.promql(query), f"the run roll-ups of {service} in Prometheus")


@pytest.fixture(scope="session")
def sent(stack: Stack) -> dict[str, Sent]:
    """Two waves of traffic from every library; returns what was sent per library.

    The second wave starts only once Prometheus holds every call of the first, so each series
    (time to first chunk included, which only the manual library reports) has an increase that
    rate() and increase() can see.
    """
    run_id = uuid.uuid4().hex[:10]
    result = {lib: Sent(service=f"e2e-{lib}-{run_id}") for lib in LIBRARIES}
    with FakeLLM() as llm:
        for wave in (1, 2):
            for lib, record in result.items():
                out = _send(stack, llm, lib, record.service, run_id)
                record.trace_ids += out["trace_ids"]
                record.calls.update(out["calls"])
                record.model_calls.update(out["model_calls"])
                record.pii = out["pii"]
            if wave == 1:
                await_calls_counted(stack, {record.service: sum(record.model_calls.values())
                                            for record in result.values()})
                await_runs_rolled_up(stack, result["manual"].service)
    return result
