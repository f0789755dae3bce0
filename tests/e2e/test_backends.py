"""End to end: app -> collector -> genai-sidecar -> collector -> Jaeger, VictoriaLogs,
Prometheus -> Alertmanager -> webhook receivers (and Tempo, Loki with binaries of your own).

Every assertion goes through a backend's own HTTP API. The stack and the traffic come from
tests/e2e/conftest.py (free ports, two waves of real instrumentation-library traffic).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import yaml

from sidecar import semconv
from tests.e2e.conftest import (
    E2E_DAILY_BUDGET,
    E2E_SESSION_CALLS,
    AlertWebhook,
    Sent,
    Stack,
    get_json,
    get_text,
    poll,
)
from tests.e2e.traffic import AGENT_MODEL_CALLS, LIBRARIES
from tests.harness import ROOT
from tests.promtool import RULES_FILE, dashboard_queries

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

#: Libraries whose runs include the SDK calls (the manual one makes a single streamed call).
SDK_LIBRARIES = [lib for lib in LIBRARIES if lib != "manual"]
#: The replacement text of an e-mail address (shared/DESIGN.md section 3).
REDACTED_EMAIL = "<EMAIL_ADDRESS"


# --------------------------------------------------------------------------------------------
# Reading spans out of each backend's JSON
# --------------------------------------------------------------------------------------------
def _otlp_value(value: dict[str, Any]) -> Any:
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        return int(value["intValue"])
    return value


def tempo_spans(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Attribute maps of every span in a Tempo trace-by-id answer (OTLP/JSON)."""
    resource_spans = (body.get("batches") or body.get("resourceSpans")
                      or (body.get("trace") or {}).get("resourceSpans") or [])
    out = []
    for rs in resource_spans:
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in ss.get("spans", []):
                out.append({a["key"]: _otlp_value(a.get("value", {}))
                            for a in span.get("attributes", [])})
    return out


def jaeger_spans(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Attribute maps (tags) of every span in a Jaeger /api/traces/{id} answer."""
    return [{t["key"]: t["value"] for t in span.get("tags", [])}
            for trace in body.get("data") or [] for span in trace.get("spans", [])]


def fetch_traces(sent: Sent, fetch) -> tuple[list[dict[str, Any]], str]:
    """Every span of every trace sent, polled until each trace is there; plus the raw JSON."""
    spans, raw = [], []
    for trace_id in sent.trace_ids:
        body = poll(lambda tid=trace_id: fetch(tid), f"trace {trace_id} of {sent.service}")
        spans.extend(body[1])
        raw.append(body[0])
    return spans, "\n".join(raw)


def _from_tempo(tempo: str, trace_id: str):
    text = get_text(f"{tempo}/api/traces/{trace_id}")
    spans = tempo_spans(json.loads(text))
    return (text, spans) if spans else None


def _from_jaeger(stack: Stack, trace_id: str):
    text = get_text(f"{stack.jaeger}/api/traces/{trace_id}")
    spans = jaeger_spans(json.loads(text))
    return (text, spans) if spans else None


def assert_enriched(library: str, sent: Sent, spans: list[dict[str, Any]], raw: str) -> None:
    """Cost attributes on the LLM spans, personal data nowhere, redacted content present."""
    # The raw JSON and the decoded attribute values (Go's encoder escapes <, > and &).
    values = "\n".join(str(v) for span in spans for v in span.values())
    leaked = [value for value in sent.pii if value in raw or value in values]
    assert not leaked, f"{library}: personal data in the backend's trace JSON: {leaked}"
    statuses = [s.get(semconv.COST_STATUS) for s in spans]
    priced = [s for s in spans if s.get(semconv.COST_STATUS) == "priced"]
    assert priced, f"{library}: no priced span; cost statuses seen: {statuses}"
    for span in priced:
        assert float(span[semconv.COST_AMOUNT]) > 0, span
        assert span[semconv.COST_CURRENCY] == "USD", span
        assert span[semconv.COST_SOURCE] == "local", span
        assert span.get(semconv.COST_PRICING_REF), span
    if library != "manual":
        assert "unpriced" in statuses, (
            f"{library}: the self-hosted model's span is not marked unpriced: {statuses}")
    assert REDACTED_EMAIL in values, (
        f"{library}: no redacted e-mail address in the trace JSON (content not captured?)")


def cost_sum(spans: list[dict[str, Any]]) -> float:
    return math.fsum(float(s[semconv.COST_AMOUNT]) for s in spans if semconv.COST_AMOUNT in s)


@pytest.fixture(scope="session")
def jaeger_traces(stack: Stack, sent: dict[str, Sent]) -> dict[str, tuple[list, str]]:
    """Per library: the spans and raw JSON Jaeger returns for every trace sent."""
    return {lib: fetch_traces(record, lambda tid: _from_jaeger(stack, tid))
            for lib, record in sent.items()}


# --------------------------------------------------------------------------------------------
# Traces
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("library", [pytest.param(lib, id=lib) for lib in LIBRARIES])
def test_jaeger_has_priced_redacted_traces(library: str, sent: dict[str, Sent],
                                           jaeger_traces: dict[str, tuple[list, str]]) -> None:
    spans, raw = jaeger_traces[library]
    assert_enriched(library, sent[library], spans, raw)


@pytest.mark.parametrize("library", [pytest.param(lib, id=lib) for lib in LIBRARIES])
def test_tempo_has_priced_redacted_traces(library: str, stack: Stack,
                                          sent: dict[str, Sent]) -> None:
    """Only with TEMPO_BIN (Grafana Tempo is AGPL: the project does not build it)."""
    tempo = stack.tempo  # skips without TEMPO_BIN
    spans, raw = fetch_traces(sent[library], lambda tid: _from_tempo(tempo, tid))
    assert_enriched(library, sent[library], spans, raw)


# --------------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------------
def _victorialogs(stack: Stack, query: str) -> list[dict[str, Any]]:
    """The records a LogsQL query selects (VictoriaLogs answers one JSON object per line)."""
    text = get_text(f"{stack.victorialogs}/select/logsql/query", {"query": query, "limit": 5000})
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _logsql_string(value: str) -> str:
    return json.dumps(value)  # a LogsQL quoted string: JSON escaping is accepted


@pytest.mark.parametrize("library", [pytest.param(lib, id=lib) for lib in LIBRARIES])
def test_victorialogs_has_redacted_inference_logs_per_trace(library: str, stack: Stack,
                                                            sent: dict[str, Sent]) -> None:
    """One inference record per chat call, found by trace id; no personal data in any record."""
    record = sent[library]
    chat_traces = [tid for tid, kind in record.calls.items() if kind.startswith("chat")]
    assert chat_traces
    for trace_id in chat_traces:
        query = f"trace_id:={_logsql_string(trace_id)}"
        want = record.model_calls[trace_id]
        records = poll(
            lambda q=query, n=want: [r for r in _victorialogs(stack, q)
                                     if r.get("event_name") == semconv.EVENT_INFERENCE][n - 1:],
            f"the {want} inference log record(s) of {record.calls[trace_id]} trace {trace_id} "
            "in VictoriaLogs")
        records = [r for r in _victorialogs(stack, query)
                   if r.get("event_name") == semconv.EVENT_INFERENCE]
        assert len(records) == want, (
            f"{library}: expected {want} inference record(s) for trace {trace_id}: {records}")
        assert semconv.LOG_DURATION in records[0], records[0]
    everything = json.dumps(_victorialogs(
        stack, f'"{semconv.SERVICE_NAME}":={_logsql_string(record.service)}'))
    assert record.service in everything, f"{library}: no record of {record.service} at all"
    leaked = [value for value in record.pii if value in everything]
    assert not leaked, f"{library}: personal data in VictoriaLogs: {leaked}"


def test_victorialogs_has_the_runaway_records_of_the_agent_runs_and_session(
        stack: Stack, sent: dict[str, Sent]) -> None:
    """Each wave's agent run crosses the e2e runaway_calls limit (one record per run, with its
    trace id and totals so far); its conversation crosses the session limit in wave 2."""
    record = sent["manual"]
    query = (f'"{semconv.SERVICE_NAME}":={_logsql_string(record.service)} '
             f'event_name:={_logsql_string(semconv.EVENT_RUNAWAY)}')

    def runaways() -> list[dict[str, Any]]:
        found = _victorialogs(stack, query)
        return found if len(found) >= 3 else []

    found = poll(runaways, f"the gen_ai.runaway records of {record.service} in VictoriaLogs")
    runs = [r for r in found if r[semconv.GENAI_RUNAWAY_SCOPE] == semconv.RUNAWAY_SCOPE_RUN]
    sessions = [r for r in found
                if r[semconv.GENAI_RUNAWAY_SCOPE] == semconv.RUNAWAY_SCOPE_SESSION]
    assert len(runs) == 2 and len(sessions) == 1, found
    assert {r["trace_id"] for r in runs} == set(record.trace_ids)
    for r in runs:
        assert r[semconv.GENAI_RUNAWAY_THRESHOLD] == "calls"
        assert int(r[semconv.LOG_RUN_CALLS]) == AGENT_MODEL_CALLS
        assert r[semconv.GENAI_AGENT_NAME] == "support-agent"
        assert float(r[semconv.LOG_RUN_COST]) > 0
    [session] = sessions
    assert int(session[semconv.LOG_SESSION_CALLS]) == E2E_SESSION_CALLS
    assert session[semconv.GENAI_CONVERSATION_ID].startswith("conv-")
    assert session["trace_id"] == record.trace_ids[1]  # the second wave's run crossed it


def test_victorialogs_inference_records_carry_the_session_totals(
        stack: Stack, sent: dict[str, Sent]) -> None:
    """The manual agent's conversation spans both waves: its records count 1..6 calls."""
    record = sent["manual"]
    query = (f'"{semconv.SERVICE_NAME}":={_logsql_string(record.service)} '
             f'event_name:={_logsql_string(semconv.EVENT_INFERENCE)}')
    total = sum(record.model_calls.values())
    found = poll(lambda: (r := _victorialogs(stack, query)) and len(r) >= total and r,
                 f"the {total} inference records of {record.service} in VictoriaLogs")
    counts = sorted(int(r[semconv.LOG_SESSION_CALLS]) for r in found)
    assert counts == list(range(1, total + 1)), counts
    costs = sorted(float(r[semconv.LOG_SESSION_COST]) for r in found)
    assert costs[0] > 0 and costs == sorted(set(costs)), costs


def _loki_streams(loki: str, query: str) -> list[dict[str, Any]]:
    now = time.time_ns()
    body = get_json(f"{loki}/loki/api/v1/query_range", {
        "query": query, "start": now - 3600 * 10**9, "end": now + 60 * 10**9,
        "limit": 5000, "direction": "forward"})
    assert body["status"] == "success", body
    return body["data"]["result"]


def _is_inference_stream(stream: dict[str, Any]) -> bool:
    labels = stream.get("stream", {})
    return (labels.get("event_name") == semconv.EVENT_INFERENCE
            or re.sub(r"\W", "_", semconv.LOG_DURATION) in labels)


@pytest.mark.parametrize("library", [pytest.param(lib, id=lib) for lib in LIBRARIES])
def test_loki_has_redacted_inference_logs_per_trace(library: str, stack: Stack,
                                                    sent: dict[str, Sent]) -> None:
    """Only with LOKI_BIN (Grafana Loki is AGPL: the project does not build it)."""
    loki = stack.loki  # skips without LOKI_BIN
    record = sent[library]
    chat_traces = [tid for tid, kind in record.calls.items() if kind.startswith("chat")]
    assert chat_traces
    for trace_id in chat_traces:
        query = f'{{service_name=~".+"}} | trace_id="{trace_id}"'
        want = record.model_calls[trace_id]

        def inference(q: str = query) -> list[dict[str, Any]]:
            return [s for s in _loki_streams(loki, q) if _is_inference_stream(s)]

        poll(lambda n=want: sum(len(s["values"]) for s in inference()) >= n,
             f"the {want} inference log record(s) of {record.calls[trace_id]} trace "
             f"{trace_id} in Loki")
        streams = inference()
        assert sum(len(s["values"]) for s in streams) == want, (
            f"{library}: expected {want} inference record(s) for trace {trace_id}: {streams}")
    everything = json.dumps(_loki_streams(loki, f'{{service_name="{record.service}"}}'))
    leaked = [value for value in record.pii if value in everything]
    assert not leaked, f"{library}: personal data in Loki: {leaked}"


# --------------------------------------------------------------------------------------------
# Metrics and alerts
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("series", [
    pytest.param(semconv.PROM_TOKEN_USAGE, id="tokens"),
    pytest.param(semconv.PROM_OPERATION_DURATION, id="duration"),
    pytest.param(semconv.PROM_OPERATION_COST, id="cost"),
])
def test_prometheus_has_histogram(series: str, stack: Stack, sent: dict[str, Sent]) -> None:
    wanted = {record.service for record in sent.values()}
    services = "|".join(wanted)
    for suffix in ("_bucket", "_sum", "_count"):
        def every_service(s: str = suffix) -> bool:
            seen = {r["metric"]["service_name"] for r in stack.promql(
                f'count by (service_name) ({series}{s}{{service_name=~"{services}"}})')}
            assert seen == wanted, f"series for {sorted(seen)} only"
            return True

        poll(every_service, f"{series}{suffix} of every service {sorted(wanted)} in Prometheus")


def test_prometheus_has_the_run_roll_ups_and_runaways(stack: Stack, sent: dict[str, Sent],
                                                       jaeger_traces) -> None:
    """One run per trace with model calls, rolled up once idle: the manual agent's two runs
    have AGENT_MODEL_CALLS calls each, under its agent name, and cost what their spans cost;
    the runaway counter has both runs and the session."""
    record = sent["manual"]
    sel = f'service_name="{record.service}"'
    calls_q = f"sum by (gen_ai_agent_name) ({semconv.PROM_TRACE_CALLS}_sum{{{sel}}})"
    count_q = f"sum({semconv.PROM_TRACE_CALLS}_count{{{sel}}})"
    poll(lambda: [r for r in stack.promql(count_q) if float(r["value"][1]) >= 2],
         f"the two run roll-ups of {record.service}")
    by_agent = {r["metric"].get("gen_ai_agent_name"): float(r["value"][1])
                for r in stack.promql(calls_q)}
    assert by_agent == {"support-agent": 2.0 * AGENT_MODEL_CALLS}, by_agent
    spans, _ = jaeger_traces["manual"]
    run_cost = stack.promql(f"sum({semconv.PROM_TRACE_COST}_sum{{{sel}}})")
    assert float(run_cost[0]["value"][1]) == pytest.approx(cost_sum(spans), rel=1e-6)
    # Every other library's calls are one per trace: runs of one call, no agent.
    other = sent["openai-v2"]
    one = stack.promql(f'sum({semconv.PROM_TRACE_CALLS}_sum{{service_name="{other.service}"}})'
                       f' / sum({semconv.PROM_TRACE_CALLS}_count'
                       f'{{service_name="{other.service}"}})')
    assert one and float(one[0]["value"][1]) == 1.0, one
    runaway_q = (f"sum by (gen_ai_runaway_scope, gen_ai_runaway_threshold, gen_ai_agent_name) "
                 f"({semconv.PROM_RUNAWAY_RUNS}{{{sel}}})")

    def runaways() -> dict[tuple[str, str, str], float]:
        got = {(r["metric"]["gen_ai_runaway_scope"], r["metric"]["gen_ai_runaway_threshold"],
                r["metric"].get("gen_ai_agent_name", "")): float(r["value"][1])
               for r in stack.promql(runaway_q)}
        return got if sum(got.values()) >= 3 else {}

    assert poll(runaways, f"the runaways of {record.service}") == {
        ("run", "calls", "support-agent"): 2.0, ("session", "calls", "support-agent"): 1.0}


def test_prometheus_cost_equals_sum_over_spans(stack: Stack, jaeger_traces) -> None:
    expected = math.fsum(cost_sum(spans) for spans, _ in jaeger_traces.values())
    assert expected > 0
    last: list[float] = []

    def matches() -> bool:
        result = stack.promql(f"sum({semconv.PROM_OPERATION_COST}_sum)")
        last[:] = [float(result[0]["value"][1])] if result else []
        return bool(last) and math.isclose(last[0], expected, rel_tol=1e-9, abs_tol=1e-12)

    poll(matches, f"sum of {semconv.PROM_OPERATION_COST}_sum == {expected!r} (last: {last})")


def test_prometheus_scrapes_the_sidecars_own_metrics(stack: Stack, jaeger_traces) -> None:
    """The sidecar's health metrics (read by some alert rules) reach Prometheus too."""
    spans = sum(len(spans) for spans, _ in jaeger_traces.values())
    found = poll(lambda: stack.promql(
        f'sum({semconv.OWN_RECEIVED_ITEMS}_total{{job="genai-sidecar",signal="traces"}}) '
        f">= {spans}"), f"{semconv.OWN_RECEIVED_ITEMS}_total >= {spans} in Prometheus")
    assert found


def test_alert_rules_are_loaded(stack: Stack) -> None:
    wanted = {(group["name"], rule.get("alert") or rule.get("record"))
              for group in yaml.safe_load(RULES_FILE.read_text("utf-8"))["groups"]
              for rule in group["rules"]}
    body = poll(lambda: get_json(f"{stack.prometheus}/api/v1/rules"), "Prometheus rules API")
    loaded = {(group["name"], rule["name"]) for group in body["data"]["groups"]
              for rule in group["rules"]}
    assert loaded == wanted
    unhealthy = [(g["name"], r["name"], r.get("lastError")) for g in body["data"]["groups"]
                 for r in g["rules"] if r.get("health") == "err"]
    assert not unhealthy


@pytest.mark.parametrize(("alertname", "receiver"), [
    # The e2e rules' daily budget is E2E_DAILY_BUDGET: the traffic's spend exceeds it.
    pytest.param("GenAIDailyBudgetExceeded", "finops", id="budget-to-finops"),
    # The traffic includes a self-hosted model the catalog cannot price.
    pytest.param("GenAIUnpricedSpans", "ops", id="warning-to-ops"),
    # The manual agent's runs cross the e2e runaway_calls limit.
    pytest.param("GenAIRunawayRun", "pager", id="runaway-to-pager"),
])
def test_alert_travels_from_traffic_to_its_receiver(
        alertname: str, receiver: str, stack: Stack, sent: dict[str, Sent],
        alert_webhook: AlertWebhook) -> None:
    """Real traffic fires the alert in Prometheus; Alertmanager routes it to the receiver its
    labels call for (collector-config/alertmanager/alertmanager.yaml), and only there."""
    assert E2E_DAILY_BUDGET < 0.001

    def delivered() -> list[dict[str, Any]]:
        return [alert for path, body in alert_webhook.received()
                if body.get("receiver") == receiver and path == f"/{receiver}"
                for alert in body.get("alerts", [])
                if alert["labels"].get("alertname") == alertname
                and alert.get("status") == "firing"]

    alerts = poll(delivered, f"a firing {alertname} notification at the {receiver} webhook")
    assert alerts[0]["labels"].get("severity") in {"warning", "critical"}, alerts[0]
    elsewhere = sorted({path for path, body in alert_webhook.received()
                        for alert in body.get("alerts", [])
                        if alert["labels"].get("alertname") == alertname
                        and path != f"/{receiver}"})
    assert not elsewhere, f"{alertname} also reached {elsewhere}"
    firing = get_json(f"{stack.alertmanager}/api/v2/alerts", {"filter": f'alertname="{alertname}"'})
    assert firing, f"Alertmanager's API lists no {alertname}"


@pytest.mark.parametrize("where,query", [
    pytest.param(where, query, id=where) for where, query in dashboard_queries()
])
def test_dashboard_panel_query_returns_data(where: str, query: str, stack: Stack,
                                            sent: dict[str, Sent]) -> None:
    def has_data() -> list[dict[str, Any]]:
        return [r for r in stack.promql(query) if not math.isnan(float(r["value"][1]))]

    poll(has_data, f"data for the panel query {where}: {query}")


def test_every_url_the_stack_prints_answers_with_content(stack: Stack,
                                                         sent: dict[str, Sent]) -> None:
    """What `make run` prints (tools/stack.sh urls) is worth opening: each URL answers 200 with a
    body, and the traces API already knows the services that sent traffic."""
    out = subprocess.run([str(ROOT / "tools" / "stack.sh"), "urls"], env=stack.env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    urls = re.findall(r"https?://\S+", out)
    assert len(urls) >= 6, out  # sidecar metrics, Jaeger, VictoriaLogs, Prometheus x2, AM
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # follows redirects
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, b""
        assert status == 200 and body, f"{url}: HTTP {status}, {len(body)} bytes"
        if url.endswith("/api/services"):
            services = set(json.loads(body)["data"])
            assert {r.service for r in sent.values()} <= services, services
        if "/metrics" in url:
            assert semconv.OWN_RECEIVED_ITEMS.encode() in body


def test_credential_headers_never_reach_the_backend(stack: Stack) -> None:
    """The collector's transform/credentials drops credential-bearing header attributes
    before anything else sees the span (collector-config/stack.yaml); the rest stays."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "e2e-credentials"}))
    provider.add_span_processor(SimpleSpanProcessor(
        OTLPSpanExporter(endpoint=f"http://{stack.otlp}", insecure=True)))
    with provider.get_tracer("e2e").start_as_current_span("POST /v1/chat") as span:
        span.set_attribute("http.request.method", "POST")
        span.set_attribute("http.request.header.authorization", ["Bearer e2e-secret-token-1"])
        span.set_attribute("http.request.header.cookie", ["session=e2e-secret-cookie-2"])
        span.set_attribute("http.request.header.x-api-key", ["e2e-secret-key-3"])
        trace_id = f"{span.get_span_context().trace_id:032x}"
    provider.shutdown()
    raw, spans = poll(lambda: _from_jaeger(stack, trace_id), f"trace {trace_id} in Jaeger")
    assert spans[0]["http.request.method"] == "POST", spans[0]
    assert not [k for k in spans[0] if k.startswith("http.request.header.")], spans[0]
    assert "e2e-secret" not in raw
