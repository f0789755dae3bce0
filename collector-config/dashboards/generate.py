"""Writes the Grafana dashboards of this directory from one description (names from semconv).

    .venv/bin/python collector-config/dashboards/generate.py

The JSON files are committed (Grafana provisioning reads them as they are);
tests/unit/test_dashboards.py fails when they differ from what this script writes. Every
panel query sits at ``panels[].targets[].expr``; the template variables are ``datasource``
(a Prometheus data source), ``service``, ``provider`` and ``model``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from sidecar import semconv as sc  # noqa: E402


def label(key: str) -> str:
    """The Prometheus label an OTLP attribute key becomes."""
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


SERVICE = label(sc.SERVICE_NAME)
PROVIDER = label(sc.GENAI_PROVIDER_NAME)
MODEL = label(sc.GENAI_REQUEST_MODEL)
ERROR = label(sc.ERROR_TYPE)
TOKEN_TYPE = label(sc.GENAI_TOKEN_TYPE)
COST_TYPE = label(sc.GENAI_COST_TYPE)
FINISH = label(sc.GENAI_FINISH_REASON)
REASON = label(sc.COST_REASON)
PII_STATUS = label(sc.REDACTION_STATUS)
PII_TYPE = label(sc.REDACTION_TYPE)
OPERATION = label(sc.GENAI_OPERATION_NAME)
AGENT = label(sc.GENAI_AGENT_NAME)
TOOL = label(sc.GENAI_TOOL_NAME)
#: gen_ai.client.operation.duration also holds agent runs and tool calls: model latency
#: panels look at model calls only.
MODEL_CALLS = f'{OPERATION}!~"invoke_agent|execute_tool"'
TEAM, FEATURE = "team", "feature"  # the default attribution dimensions (processors/metrics)
PERIOD = label(sc.GENAI_BUDGET_PERIOD)

SEL = f'{SERVICE}=~"$service",{PROVIDER}=~"$provider",{MODEL}=~"$model"'
SVC = f'{SERVICE}=~"$service"'
RI = "$__rate_interval"

DS = {"type": "prometheus", "uid": "${datasource}"}


def _hist_quantile(q: float, metric: str, by: str = "", sel: str = SEL) -> str:
    return (f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) "
            f"(rate({metric}_bucket{{{sel}}}[{RI}])))")


def _target(expr: str, legend: str, ref: str, instant: bool = False) -> dict:
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}
    if instant:
        t.update(instant=True, range=False, format="table")
    return t


def panel(title: str, kind: str, targets: list[tuple[str, str]], unit: str, w: int = 12,
          h: int = 8, description: str = "", instant: bool = False) -> dict:
    """One panel: ``targets`` are (expr, legend) pairs."""
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
        if kind == "timeseries" else {"reduceOptions": {"calcs": ["lastNotNull"]}},
        "targets": [_target(e, lg, chr(ord("A") + i), instant)
                    for i, (e, lg) in enumerate(targets)],
        "gridPos": {"w": w, "h": h},
    }


def _variables() -> list[dict]:
    def query_var(name: str, lbl: str, title: str) -> dict:
        q = f"label_values({sc.PROM_REQUESTS}, {lbl})"
        return {
            "name": name, "label": title, "type": "query", "datasource": DS,
            "query": {"query": q, "refId": f"{name}-var"}, "definition": q,
            "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
        }

    return [
        {"name": "datasource", "label": "Data source", "type": "datasource",
         "query": "prometheus", "current": {}, "hide": 0},
        query_var("service", SERVICE, "Service"),
        query_var("provider", PROVIDER, "Provider"),
        query_var("model", MODEL, "Model"),
    ]


def dashboard(uid: str, title: str, description: str, panels: list[dict]) -> dict:
    """A provisioning-ready dashboard; panels are laid out left to right, top to bottom."""
    x = y = row_h = 0
    for i, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = i
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x, row_h = x + w, max(row_h, h)
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["genai", "genai-sidecar"], "editable": True, "schemaVersion": 39,
        "version": 1, "time": {"from": "now-6h", "to": "now"}, "refresh": "1m",
        "timezone": "", "graphTooltip": 1, "links": [], "annotations": {"list": []},
        "templating": {"list": _variables()},
        "panels": panels,
    }


def operations() -> dict:
    req, dur, ttfc, tok = (sc.PROM_REQUESTS, sc.PROM_OPERATION_DURATION,
                           sc.PROM_TIME_TO_FIRST_CHUNK, sc.PROM_TOKEN_USAGE)
    model_sel = f"{SEL},{MODEL_CALLS}"
    tools = f'{SVC},{OPERATION}="execute_tool"'
    agents = f'{SVC},{OPERATION}="invoke_agent"'
    return dashboard("genai-operations", "GenAI / Operations",
                     "LLM call rate, latency, errors and time to first token; agent runs and "
                     "tool calls (genai-sidecar).", [
        panel("Request rate by service", "timeseries",
              [(f"sum by ({SERVICE}) (rate({req}{{{SEL}}}[{RI}]))", f"{{{{{SERVICE}}}}}")],
              "reqps"),
        panel("Request rate by model", "timeseries",
              [(f"sum by ({MODEL}) (rate({req}{{{SEL}}}[{RI}]))", f"{{{{{MODEL}}}}}")], "reqps"),
        panel("Latency p50 / p95 / p99", "timeseries",
              [(_hist_quantile(0.5, dur, sel=model_sel), "p50"),
               (_hist_quantile(0.95, dur, sel=model_sel), "p95"),
               (_hist_quantile(0.99, dur, sel=model_sel), "p99")], "s"),
        panel("Latency p95 by model", "timeseries",
              [(_hist_quantile(0.95, dur, MODEL, model_sel), f"{{{{{MODEL}}}}}")], "s"),
        panel("Error rate", "timeseries",
              [(f'(sum(rate({req}{{{SEL},{ERROR}!=""}}[{RI}])) or vector(0))'
                f" / sum(rate({req}{{{SEL}}}[{RI}]))", "error rate")], "percentunit",
              description="Share of LLM calls that ended in an error (error.type set)."),
        panel("Errors by type", "timeseries",
              [(f'sum by ({ERROR}) (rate({req}{{{SEL},{ERROR}!=""}}[{RI}]))', f"{{{{{ERROR}}}}}")],
              "reqps"),
        panel("Time to first token p50 / p95", "timeseries",
              [(_hist_quantile(0.5, ttfc), "p50"), (_hist_quantile(0.95, ttfc), "p95")], "s",
              description="Streaming calls only (spans that carry a time to first chunk)."),
        panel("Tokens per second by type", "timeseries",
              [(f"sum by ({TOKEN_TYPE}) (rate({tok}_sum{{{SEL}}}[{RI}]))",
                f"{{{{{TOKEN_TYPE}}}}}")],
              "short"),
        panel("Tool calls by tool", "timeseries",
              [(f"sum by ({TOOL}) (rate({dur}_count{{{tools}}}[{RI}]))", f"{{{{{TOOL}}}}}")],
              "reqps", description="execute_tool spans (agent frameworks, GenAI conventions)."),
        panel("Tool error rate by tool", "timeseries",
              [(f'(sum by ({TOOL}) (rate({dur}_count{{{tools},{ERROR}!=""}}[{RI}]))'
                f" or (sum by ({TOOL}) (rate({dur}_count{{{tools}}}[{RI}])) * 0))"
                f" / sum by ({TOOL}) (rate({dur}_count{{{tools}}}[{RI}]))",
                f"{{{{{TOOL}}}}}")], "percentunit",
              description="Share of tool calls that ended in an error: agents can fail at the "
                          "tool layer while the model metrics look healthy."),
        panel("Tool latency p95 by tool", "timeseries",
              [(_hist_quantile(0.95, dur, TOOL, tools), f"{{{{{TOOL}}}}}")], "s"),
        panel("Agent runs: p95 duration by agent", "timeseries",
              [(_hist_quantile(0.95, dur, AGENT, agents), f"{{{{{AGENT}}}}}")], "s",
              description="invoke_agent spans; the alert GenAIAgentErrorRateHigh watches their "
                          "error share."),
    ])


def _against_daily_budget(dim: str) -> str:
    """Spend of the last 24h per value of ``dim`` over its daily budget (the gauge every sidecar
    replica exports alike: max, not sum); values without a budget have no series."""
    return (f"sum by ({dim}) (increase({sc.PROM_OPERATION_COST}_sum{{{SEL}}}[1d]))"
            f" / on ({dim}) max by ({dim}) ({sc.PROM_BUDGET}"
            f'{{{PERIOD}="{sc.BUDGET_PERIOD_DAILY}"}})')


def finops() -> dict:
    cost, parts, unpriced, tok = (sc.PROM_OPERATION_COST, sc.PROM_COST_USAGE, sc.PROM_UNPRICED,
                                  sc.PROM_TOKEN_USAGE)
    budgets = ("Spend of the last 24 hours over the daily budget (genai_metrics budgets); 100% "
               "is the budget. Only {what} with a budget are shown; the service, provider and "
               "model filters select part of the spend, never of the budget.")
    return dashboard("genai-finops", "GenAI / FinOps",
                     "LLM spend by model, team and feature; cost parts; price gaps.", [
        panel("Spend in range", "stat",
              [(f"sum(increase({cost}_sum{{{SEL}}}[$__range]))", "spend")], "currencyUSD", w=6),
        panel("Projected month (last 24h x 30)", "stat",
              [(f"sum(rate({cost}_sum{{{SEL}}}[1d])) * 86400 * 30", "projected")],
              "currencyUSD", w=6),
        panel("Unpriced spans in range", "stat",
              [(f"sum(increase({unpriced}{{{SVC}}}[$__range])) or vector(0)", "unpriced")],
              "short", w=6, description="LLM spans without a price: a gap in the price table."),
        panel("Priced calls in range", "stat",
              [(f"sum(increase({cost}_count{{{SEL}}}[$__range]))", "priced")], "short", w=6),
        panel("Spend against daily budget by team", "timeseries",
              [(_against_daily_budget(TEAM), f"{{{{{TEAM}}}}}")], "percentunit",
              description=budgets.format(what="teams")),
        panel("Spend against daily budget by feature", "timeseries",
              [(_against_daily_budget(FEATURE), f"{{{{{FEATURE}}}}}")], "percentunit",
              description=budgets.format(what="features")),
        panel("Spend by model (USD/h)", "timeseries",
              [(f"sum by ({MODEL}) (rate({cost}_sum{{{SEL}}}[{RI}])) * 3600", f"{{{{{MODEL}}}}}")],
              "currencyUSD"),
        panel("Spend by team (USD/h)", "timeseries",
              [(f"sum by ({TEAM}) (rate({cost}_sum{{{SEL}}}[{RI}])) * 3600", f"{{{{{TEAM}}}}}")],
              "currencyUSD"),
        panel("Spend by feature (USD/h)", "timeseries",
              [(f"sum by ({FEATURE}) (rate({cost}_sum{{{SEL}}}[{RI}])) * 3600",
                f"{{{{{FEATURE}}}}}")], "currencyUSD"),
        panel("Input vs output vs cache cost (USD/h)", "timeseries",
              [(f"sum by ({COST_TYPE}) (rate({parts}{{{SEL}}}[{RI}])) * 3600",
                f"{{{{{COST_TYPE}}}}}")], "currencyUSD"),
        panel("Top spenders in range", "table",
              [(f"topk(10, sum by ({SERVICE}, {TEAM}, {FEATURE}) "
                f"(increase({cost}_sum{{{SEL}}}[$__range])))", "")], "currencyUSD",
              instant=True),
        panel("Cost per 1k tokens by model", "timeseries",
              [(f"sum by ({MODEL}) (rate({cost}_sum{{{SEL}}}[{RI}])) * 1000"
                f" / sum by ({MODEL}) (rate({tok}_sum{{{SEL}}}[{RI}]))", f"{{{{{MODEL}}}}}")],
              "currencyUSD"),
        panel("Unpriced spans by reason", "timeseries",
              [(f"sum by ({REASON}) (rate({unpriced}{{{SVC}}}[{RI}]))", f"{{{{{REASON}}}}}")],
              "short", w=24),
    ])


def quality() -> dict:
    fr, spans, ents = sc.PROM_FINISH_REASONS, sc.PROM_REDACTION_SPANS, sc.PROM_REDACTION_ENTITIES
    return dashboard("genai-quality-privacy", "GenAI / Quality & privacy",
                     "Finish reasons, truncation, PII redaction by entity type and failures.", [
        panel("Finish reasons", "timeseries",
              [(f"sum by ({FINISH}) (rate({fr}{{{SEL}}}[{RI}]))", f"{{{{{FINISH}}}}}")], "short"),
        panel("Truncation rate (finish reason length)", "timeseries",
              [(f'(sum(rate({fr}{{{SEL},{FINISH}="length"}}[{RI}])) or vector(0))'
                f" / sum(rate({fr}{{{SEL}}}[{RI}]))", "truncated")], "percentunit"),
        panel("Redactions by entity type", "timeseries",
              [(f"sum by ({PII_TYPE}) (rate({ents}{{{SVC}}}[{RI}]))", f"{{{{{PII_TYPE}}}}}")],
              "short", description="Spans in which each entity type was found and replaced."),
        panel("Redaction outcome", "timeseries",
              [(f"sum by ({PII_STATUS}) (rate({spans}{{{SVC}}}[{RI}]))", f"{{{{{PII_STATUS}}}}}")],
              "short"),
        panel("Redaction failures in range", "stat",
              [(f'sum(increase({spans}{{{SVC},{PII_STATUS}="failed"}}[$__range])) or vector(0)',
                "failed")], "short", w=12,
              description="Content withheld because it could not be analyzed (fails closed)."),
        panel("Share of spans with PII", "stat",
              [(f'(sum(rate({spans}{{{SVC},{PII_STATUS}="redacted"}}[$__range])) or vector(0))'
                f" / sum(rate({spans}{{{SVC}}}[$__range]))", "with PII")], "percentunit", w=12),
    ])


def executive() -> dict:
    cost, req, tok, runs, runaway = (sc.PROM_OPERATION_COST, sc.PROM_REQUESTS,
                                     sc.PROM_TOKEN_USAGE, sc.PROM_TRACE_COST, sc.PROM_RUNAWAY_RUNS)
    errors = f'{SEL},{ERROR}!=""'
    return dashboard("genai-executive", "GenAI / Executive",
                     "What GenAI costs and how it is used: daily spend, call trend, error rate, "
                     "top models (genai-sidecar).", [
        panel("Spend, last 24 hours", "stat",
              [(f"sum(increase({cost}_sum{{{SEL}}}[1d]))", "24h")], "currencyUSD", w=6),
        panel("Model calls in range", "stat",
              [(f"sum(increase({req}{{{SEL}}}[$__range]))", "calls")], "short", w=6),
        panel("Error rate in range", "stat",
              [(f"(sum(increase({req}{{{errors}}}[$__range])) or vector(0))"
                f" / sum(increase({req}{{{SEL}}}[$__range]))", "errors")], "percentunit", w=6,
              description="Share of model calls that ended in an error."),
        panel("Runaway runs in range", "stat",
              [(f"sum(increase({runaway}{{{SVC}}}[$__range])) or vector(0)", "runaways")],
              "short", w=6, description="Agent runs or sessions past a runaway limit "
                                        "(genai_calls); their gen_ai.runaway log records say "
                                        "which."),
        panel("Daily spend (trailing 24h)", "timeseries",
              [(f"sum(increase({cost}_sum{{{SEL}}}[1d]))", "USD / 24h")], "currencyUSD",
              description="At each point, what the last 24 hours cost."),
        panel("Model calls per hour by service", "timeseries",
              [(f"sum by ({SERVICE}) (rate({req}{{{SEL}}}[{RI}])) * 3600",
                f"{{{{{SERVICE}}}}}")], "short"),
        panel("Error rate", "timeseries",
              [(f"(sum(rate({req}{{{errors}}}[{RI}])) or vector(0))"
                f" / sum(rate({req}{{{SEL}}}[{RI}]))", "error rate")], "percentunit"),
        panel("Average cost per agent run", "timeseries",
              [(f"sum by ({AGENT}) (rate({runs}_sum{{{SVC}}}[{RI}]))"
                f" / sum by ({AGENT}) (rate({runs}_count{{{SVC}}}[{RI}]))",
                f"{{{{{AGENT}}}}}")], "currencyUSD",
              description="One run is one trace with model calls, rolled up once idle; runs "
                          "without an agent span have no agent name."),
        panel("Top models by spend in range", "table",
              [(f"topk(10, sum by ({MODEL}) (increase({cost}_sum{{{SEL}}}[$__range])))", "")],
              "currencyUSD", instant=True),
        panel("Top models by calls in range", "table",
              [(f"topk(10, sum by ({MODEL}) (increase({req}{{{SEL}}}[$__range])))", "")],
              "short", instant=True),
        panel("Tokens per hour by model", "timeseries",
              [(f"sum by ({MODEL}) (rate({tok}_sum{{{SEL}}}[{RI}])) * 3600",
                f"{{{{{MODEL}}}}}")], "short", w=24),
    ])


def developer() -> dict:
    dur, req, tok, cache, low, ttfc = (sc.PROM_OPERATION_DURATION, sc.PROM_REQUESTS,
                                       sc.PROM_TOKEN_USAGE, sc.PROM_TOKEN_CACHE,
                                       sc.PROM_LOW_YIELD_CALLS, sc.PROM_TIME_TO_FIRST_CHUNK)
    inp, out = f'{SEL},{TOKEN_TYPE}="input"', f'{SEL},{TOKEN_TYPE}="output"'
    return dashboard("genai-developer", "GenAI / Developer",
                     "Token efficiency, latency by operation (tools included), errors by type, "
                     "prompt-cache share (genai-sidecar).", [
        panel("Output tokens per input token by model", "timeseries",
              [(f"sum by ({MODEL}) (rate({tok}_sum{{{out}}}[{RI}]))"
                f" / sum by ({MODEL}) (rate({tok}_sum{{{inp}}}[{RI}]))", f"{{{{{MODEL}}}}}")],
              "short", description="Low values: large prompts for short answers."),
        panel("High-input / low-output calls by model", "timeseries",
              [(f"sum by ({MODEL}) (rate({low}{{{SEL}}}[{RI}]))", f"{{{{{MODEL}}}}}")], "reqps",
              description="Calls with a large input and little output (genai_metrics "
                          "low_yield_min_input_tokens, low_yield_max_output_ratio); find them in "
                          "the inference logs by their token counts."),
        panel("Share of calls that are high-input / low-output", "timeseries",
              [(f"(sum by ({MODEL}) (rate({low}{{{SEL}}}[{RI}]))"
                f" or (sum by ({MODEL}) (rate({req}{{{SEL}}}[{RI}])) * 0))"
                f" / sum by ({MODEL}) (rate({req}{{{SEL}}}[{RI}]))", f"{{{{{MODEL}}}}}")],
              "percentunit"),
        panel("Prompt-cache share of input tokens by model", "timeseries",
              [(f'(sum by ({MODEL}) (rate({cache}{{{SEL},{TOKEN_TYPE}="cache_read"}}[{RI}]))'
                f" or (sum by ({MODEL}) (rate({tok}_sum{{{inp}}}[{RI}])) * 0))"
                f" / sum by ({MODEL}) (rate({tok}_sum{{{inp}}}[{RI}]))", f"{{{{{MODEL}}}}}")],
              "percentunit", description="Input tokens served from the prompt cache (cache "
                                         "reads); 0 where a model reports none."),
        panel("Latency p95 by operation (tools and agents included)", "timeseries",
              [(_hist_quantile(0.95, dur, OPERATION, SVC), f"{{{{{OPERATION}}}}}")], "s"),
        panel("Errors by type and operation", "timeseries",
              [(f'sum by ({ERROR}, {OPERATION}) (rate({dur}_count{{{SVC},{ERROR}!=""}}[{RI}]))',
                f"{{{{{OPERATION}}}}} {{{{{ERROR}}}}}")], "reqps",
              description="Model calls, tool calls and agent runs that ended in an error."),
        panel("Average input and output tokens per call by model", "timeseries",
              [(f"sum by ({MODEL}, {TOKEN_TYPE}) (rate({tok}_sum{{{SEL}}}[{RI}]))"
                f" / sum by ({MODEL}, {TOKEN_TYPE}) (rate({tok}_count{{{SEL}}}[{RI}]))",
                f"{{{{{MODEL}}}}} {{{{{TOKEN_TYPE}}}}}")], "short"),
        panel("Time to first token p95 by model", "timeseries",
              [(_hist_quantile(0.95, ttfc, MODEL), f"{{{{{MODEL}}}}}")], "s"),
        panel("Slowest models: latency p95 in range", "table",
              [(f"topk(10, histogram_quantile(0.95, sum by (le, {MODEL}) "
                f"(increase({dur}_bucket{{{SEL},{MODEL_CALLS}}}[$__range]))))", "")], "s",
              instant=True, w=24),
    ])


DASHBOARDS = {"genai-operations.json": operations, "genai-finops.json": finops,
              "genai-quality-privacy.json": quality, "genai-executive.json": executive,
              "genai-developer.json": developer}


def render(name: str) -> str:
    """The JSON text of one dashboard file."""
    return json.dumps(DASHBOARDS[name](), indent=2, sort_keys=False) + "\n"


def main() -> None:
    for name in DASHBOARDS:
        (HERE / name).write_text(render(name), "utf-8")


if __name__ == "__main__":
    main()
