"""What Prometheus and Loki really get: the sidecar's derived metrics and log records after the
real collector (prometheus exporter, OTLP logs), checked against the names the alert rules and
dashboards use.

    client --OTLP--> collector --> sidecar (cost, genai_metrics, inference_logs)
        --> collector: metrics -> prometheus exporter (scraped here); traces, logs -> sink
"""

from __future__ import annotations

import math
import signal as os_signal
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sidecar import otlpjson
from sidecar import semconv as sc
from sidecar.component import Signal
from tests import promtool
from tests.harness import Collector, SidecarProcess, Sink, export, free_port, wait_until
from tests.llm_spans import llm_span, merge, request

pytestmark = pytest.mark.integration

COLLECTOR_CONFIG = Path(__file__).with_name("metrics-collector.yaml")
HISTOGRAMS = (sc.PROM_TOKEN_USAGE, sc.PROM_OPERATION_DURATION, sc.PROM_OPERATION_COST,
              sc.PROM_TIME_TO_FIRST_CHUNK, sc.PROM_TRACE_COST, sc.PROM_TRACE_CALLS)
#: Recording rules of the rule file, and the sidecar's own counters (its /metrics): not series
#: of the derived metrics.
RECORDED = {sc.PROM_BUDGET_DAILY, sc.PROM_BUDGET_MONTHLY, sc.PROM_OWN_REDACTION_FAILURES,
            sc.PROM_OWN_REDACTION_DEFERRED}


def _sidecar_config(path: Path, interval: str) -> Path:
    path.write_text(
        "telemetry:\n  metrics_listen: null\n"
        "processors:\n  cost: {}\n"
        # Short windows, and a runaway limit the traffic crosses: every derived series exists.
        "  genai_calls:\n    pairing_window: 300ms\n    tick_interval: 100ms\n"
        "    run_idle: 300ms\n    runaway_calls: 3\n"
        f"  genai_metrics:\n    interval: {interval}\n"
        "    budgets:\n      - {dimension: team, value: payments, daily: 150, monthly: 3000,"
        " currency: USD}\n"
        "  inference_logs:\n    previews: false\n"
        "pipelines:\n  traces: [cost, genai_calls, genai_metrics, inference_logs]\n", "utf-8")
    return path


def _traffic():
    """One request's worth of LLM spans covering every derived series."""
    return merge(
        request([
            llm_span("gpt-4o", input_tokens=1200, output_tokens=300, span_id=0x11, extra={
                "feature": "checkout", "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.response.time_to_first_chunk": 0.3,
                "gen_ai.usage.cache_read.input_tokens": 1000}),
            llm_span("gpt-4o", input_tokens=50, output_tokens=None, span_id=0x12,
                     error="timeout"),
            llm_span("no-such-model-xyz", input_tokens=10, output_tokens=10, span_id=0x13),
            llm_span("claude-sonnet-4-5", provider="anthropic", input_tokens=900,
                     output_tokens=4096, span_id=0x14, extra={
                         "gen_ai.response.finish_reasons": ["max_tokens"],
                         sc.REDACTION_STATUS: "redacted",
                         sc.REDACTION_TYPES: ["EMAIL_ADDRESS"], sc.REDACTION_COUNT: 1}),
            llm_span("gpt-4o-mini", input_tokens=9000, output_tokens=7, span_id=0x15, extra={
                sc.REDACTION_STATUS: "failed", sc.REDACTION_COUNT: 0}),
            llm_span("gpt-4o", input_tokens=None, output_tokens=None, span_id=0x16, extra={
                sc.GENAI_OPERATION_NAME: "invoke_agent", sc.GENAI_AGENT_NAME: "planner"}),
            llm_span("gpt-4o", input_tokens=None, output_tokens=None, span_id=0x17,
                     error="PermissionError", extra={
                         sc.GENAI_OPERATION_NAME: "execute_tool",
                         sc.GENAI_TOOL_NAME: "refund_order"}),
        ], service="shop-api", resource={"team": "payments"}),
    )


def _scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Samples by series name (histograms as _bucket/_sum/_count), empty if unreachable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def _expected_names() -> set[str]:
    names = set()
    for name in promtool.PROM_SERIES - RECORDED:
        if name in HISTOGRAMS:
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        else:
            names.add(name)
    return names


@pytest.fixture
async def sink():
    s = await Sink().start()
    yield s
    await s.stop()


async def _stack(tmp_path: Path, sink: Sink, interval: str):
    sidecar_port, prom_port = free_port(), free_port()
    collector = Collector(tmp_path, f"127.0.0.1:{sidecar_port}", sink.endpoint, COLLECTOR_CONFIG)
    collector.env["PROMETHEUS_ENDPOINT"] = f"127.0.0.1:{prom_port}"
    sidecar = SidecarProcess(tmp_path, sidecar_port, f"127.0.0.1:{collector.enriched_port}",
                             _sidecar_config(tmp_path / "sidecar.yaml", interval))
    await sidecar.start()
    await collector.start()
    await sidecar.ready()
    await collector.ready()
    return collector, sidecar, prom_port


def _forwarded_cost(sink: Sink) -> float:
    return math.fsum(kv.value.double_value for r in sink.received[Signal.TRACES]
                     for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans
                     for kv in s.attributes if kv.key == sc.COST_AMOUNT)


async def test_series_and_labels_prometheus_sees_match_rules_and_dashboards(tmp_path, sink):
    """Every series the rules and dashboards read exists with the labels they use, and the
    scraped cost sum equals the cost attributes forwarded on the spans."""
    collector, sidecar, prom_port = await _stack(tmp_path, sink, "200ms")
    try:
        await export(f"127.0.0.1:{collector.otlp_port}", Signal.TRACES, _traffic())
        expected = _expected_names()
        await wait_until(lambda: expected <= set(_scrape(prom_port)), 60,
                         f"series {sorted(expected)} at the prometheus exporter")
        await wait_until(lambda: sink.items(Signal.LOGS) >= 5 and sink.items(Signal.TRACES) >= 5,
                         30, "derived logs and traces at the far end")
        series = _scrape(prom_port)
    finally:
        await sidecar.stop()
        await collector.stop()

    # Names: exactly the PROM_* constants the rules and dashboards are written with.
    read = set()
    for rule in promtool.yaml.safe_load(promtool.RULES_FILE.read_text())["groups"]:
        for r in rule["rules"]:
            read |= promtool.series_read(r["expr"])
    for _, query in promtool.dashboard_queries():
        read |= promtool.series_read(query)
    scraped_bases = set(series) | {n.removesuffix(suffix) for n in series
                                   for suffix in ("_bucket", "_sum", "_count")
                                   if n.endswith(suffix)}
    assert read - RECORDED <= scraped_bases

    requests = series[sc.PROM_REQUESTS]
    ok = [labels for labels, _ in requests if labels.get("gen_ai_request_model") == "gpt-4o"
          and "error_type" not in labels]
    assert ok == [{
        "job": sc.DERIVED_SERVICE_NAME, "instance": ok[0]["instance"],
        "otel_scope_name": sc.DERIVED_SCOPE, "otel_scope_schema_url": "",
        "otel_scope_version": "", "service_name": "shop-api", "gen_ai_provider_name": "openai",
        "gen_ai_operation_name": "chat", "gen_ai_request_model": "gpt-4o",
        "gen_ai_response_model": "gpt-4o", "team": "payments", "feature": "checkout",
    }]
    assert {lb.get("error_type") for lb, _ in requests} == {None, "timeout"}
    assert {lb["gen_ai_token_type"] for lb, _ in series[f"{sc.PROM_TOKEN_USAGE}_sum"]} == {
        "input", "output"}
    assert {lb["gen_ai_token_type"] for lb, _ in series[sc.PROM_TOKEN_CACHE]} == {"cache_read"}
    assert [(lb["gen_ai_request_model"], v) for lb, v in series[sc.PROM_LOW_YIELD_CALLS]] == [
        ("gpt-4o-mini", 1.0)]
    assert {lb["gen_ai_cost_type"] for lb, _ in series[sc.PROM_COST_USAGE]} >= {
        "input", "output", "cache_read"}
    assert "unknown_model" in {lb["gen_ai_usage_cost_reason"] for lb, _ in series[sc.PROM_UNPRICED]}
    assert {lb["gen_ai_response_finish_reason"] for lb, _ in series[sc.PROM_FINISH_REASONS]} == {
        "stop", "length"}
    assert {lb["redaction_pii_status"] for lb, _ in series[sc.PROM_REDACTION_SPANS]} == {
        "redacted", "failed"}
    assert {lb["redaction_pii_type"] for lb, _ in series[sc.PROM_REDACTION_ENTITIES]} == {
        "EMAIL_ADDRESS"}
    # The budget gauge: the dimension's own label (what the budget rules join on), no more.
    budgets = sorted(series[sc.PROM_BUDGET], key=lambda s: s[1])
    instance = budgets[0][0]["instance"]
    assert budgets == [({
        "job": sc.DERIVED_SERVICE_NAME, "instance": instance,
        "otel_scope_name": sc.DERIVED_SCOPE, "otel_scope_schema_url": "",
        "otel_scope_version": "", "team": "payments",
        promtool.prom_label(sc.GENAI_BUDGET_PERIOD): period}, amount)
        for period, amount in ((sc.BUDGET_PERIOD_DAILY, 150.0),
                               (sc.BUDGET_PERIOD_MONTHLY, 3000.0))]
    # Per replica like the spend: two replicas give two series, hence max by in the rules.
    assert instance == ok[0]["instance"]
    # Every label a rule or panel filters or groups by is on some scraped series.
    labels_seen = {k for samples in series.values() for lb, _ in samples for k in lb}
    from tests.unit.test_alert_rules import KNOWN_LABELS

    assert KNOWN_LABELS | {"team", "feature"} <= labels_seen

    # The cost identity, end to end.
    scraped_cost = math.fsum(v for _, v in series[f"{sc.PROM_OPERATION_COST}_sum"])
    assert scraped_cost == pytest.approx(_forwarded_cost(sink), rel=1e-9)
    assert scraped_cost > 0

    # The log records at the far end: one per model call, correlated to the spans.
    records = [(rl.resource, r) for req in sink.received[Signal.LOGS]
               for rl in req.resource_logs for sl in rl.scope_logs for r in sl.log_records
               if r.event_name != sc.EVENT_RUNAWAY]
    runaway = [r for req in sink.received[Signal.LOGS] for rl in req.resource_logs
               for sl in rl.scope_logs for r in sl.log_records if r.event_name == sc.EVENT_RUNAWAY]
    assert len(runaway) == 1 and runaway[0].trace_id == (1).to_bytes(16, "big")
    span_ids = {s.span_id for req in sink.received[Signal.TRACES] for rs in req.resource_spans
                for ss in rs.scope_spans for s in ss.spans}
    assert len(records) == 5  # the agent run and the tool call are not model calls
    assert {r.span_id for _, r in records} == span_ids - {
        (0x16).to_bytes(8, "big"), (0x17).to_bytes(8, "big")}
    assert {r.event_name for _, r in records} == {sc.EVENT_INFERENCE}
    for resource, _ in records:
        res = {kv.key: kv.value.string_value for kv in resource.attributes}
        assert res[sc.SERVICE_NAME] == "shop-api" and sc.GENAI_PROVIDER_NAME in res
    (tmp_path / "far-end-sample.txt").write_text(
        "\n".join(f"{n} {lb} {v}" for n in (sc.PROM_REQUESTS, f"{sc.PROM_OPERATION_COST}_sum",
                                             sc.PROM_BUDGET)
                  for lb, v in series[n]) + "\n\n"
        + otlpjson.dumps(next(r for r in sink.received[Signal.LOGS])), "utf-8")


async def test_sigterm_flushes_the_derived_metrics(tmp_path, sink):
    """With an hour-long export interval, stopping the sidecar still delivers the totals."""
    collector, sidecar, prom_port = await _stack(tmp_path, sink, "1h")
    try:
        await export(f"127.0.0.1:{collector.otlp_port}", Signal.TRACES, _traffic())
        await wait_until(lambda: sink.items(Signal.TRACES) >= 5, 30, "traces at the far end")
        assert sc.PROM_REQUESTS not in _scrape(prom_port)
        await sidecar.signal(os_signal.SIGTERM)
        assert await sidecar.wait(60) == 0
        await wait_until(lambda: sc.PROM_REQUESTS in _scrape(prom_port), 30,
                         "flushed metrics at the prometheus exporter")
        calls = sum(v for _, v in _scrape(prom_port)[sc.PROM_REQUESTS])
    finally:
        await sidecar.stop()
        await collector.stop()
    assert calls == 5


async def test_full_default_chain_counts_real_redactions_and_previews_are_redacted(tmp_path, sink):
    """The embedded default chain [cost, redaction, genai_calls, genai_metrics, inference_logs]
    with the real redaction processor: entity types reach Prometheus, previews carry no raw PII."""
    from sidecar.config import default_config_text

    text = default_config_text().replace("  genai_metrics: {}", "  genai_metrics:\n"
                                         "    interval: 200ms").replace(
        "  inference_logs: {}", "  inference_logs:\n    previews: true")
    text = text.replace("metrics_listen: 127.0.0.1:14319", "metrics_listen: null")
    config = tmp_path / "default-previews.yaml"
    config.write_text(text, "utf-8")
    sidecar_port, prom_port = free_port(), free_port()
    collector = Collector(tmp_path, f"127.0.0.1:{sidecar_port}", sink.endpoint, COLLECTOR_CONFIG)
    collector.env["PROMETHEUS_ENDPOINT"] = f"127.0.0.1:{prom_port}"
    sidecar = SidecarProcess(tmp_path, sidecar_port, f"127.0.0.1:{collector.enriched_port}",
                             config)
    email = "jane.doe@example.com"
    messages = ('[{"role":"user","parts":[{"type":"text","content":"Mail ' + email
                + ' about the refund"}]}]')
    try:
        await sidecar.start()
        await collector.start()
        await sidecar.ready()
        await collector.ready()
        await export(f"127.0.0.1:{collector.otlp_port}", Signal.TRACES, request([
            llm_span("gpt-4o", span_id=0x21, extra={"gen_ai.input.messages": messages})]))
        await wait_until(lambda: sc.PROM_REDACTION_ENTITIES in _scrape(prom_port), 120,
                         "redaction series at the prometheus exporter")
        await wait_until(lambda: sink.items(Signal.LOGS) >= 1, 30, "the inference log record")
        series = _scrape(prom_port)
    finally:
        await sidecar.stop()
        await collector.stop()
    assert "EMAIL_ADDRESS" in {lb["redaction_pii_type"]
                               for lb, _ in series[sc.PROM_REDACTION_ENTITIES]}
    assert {lb["redaction_pii_status"] for lb, _ in series[sc.PROM_REDACTION_SPANS]} == {
        "redacted"}
    (record,) = [r for req in sink.received[Signal.LOGS] for rl in req.resource_logs
                 for sl in rl.scope_logs for r in sl.log_records]
    attrs = {kv.key: kv.value for kv in record.attributes}
    assert attrs[sc.REDACTION_STATUS].string_value == "redacted"
    preview_text = attrs[sc.LOG_PROMPT_PREVIEW].string_value
    assert "<EMAIL_ADDRESS" in preview_text and email not in preview_text
    assert email not in otlpjson.dumps(sink.received[Signal.LOGS][0])
