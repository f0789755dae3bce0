"""What deriving metrics and log records adds to the cost chain, measured in the same run.

    python -m bench derived [--quick]

512-span LLM batches of OTel GenAI chat spans (10 models, 3 services, 5 teams, some errors,
finish reasons and a redaction summary), decoded, run through the chain and encoded (the
derived log records too). Variants, timed alternately in one process:

* ``cost``: the cost processor alone (the baseline);
* ``+metrics``: cost then genai_metrics (SDK instruments; the periodic export is not timed);
* ``+metrics+logs``: cost, genai_metrics, inference_logs, plus encoding the derived records;
* ``+calls+metrics+logs``: the default traces chain without redaction: genai_calls settles the
  calls (two of the ten models are Claude models, held for pairing; a batch sent again holds
  them once) and follows the run, before metrics and logs.

The table gives medians of spans per second and the ratio to ``cost`` in each round.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

import processors.calls as calls
import processors.cost as cost
import processors.logs as logs
import processors.metrics as metrics
from bench.cost import _run_sync
from sidecar import semconv as sc
from sidecar.component import BatchContext, Signal
from tests.llm_spans import llm_span, merge, request

SPANS = 512
MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3-mini", "claude-sonnet-4-5",
          "claude-3-5-haiku-latest", "gemini-2.0-flash", "mistral-large-latest",
          "no-such-model", "gpt-3.5-turbo")


def _batch() -> bytes:
    per_service = SPANS // 4
    reqs = []
    for s, service in enumerate(("chat", "search", "support", "batch")):
        spans = []
        for i in range(per_service):
            n = s * per_service + i
            extra: dict[str, Any] = {"team": f"team-{n % 5}", "feature": f"f-{n % 7}",
                                     "gen_ai.response.finish_reasons": ["stop"]}
            if n % 3 == 0:
                extra.update({sc.REDACTION_STATUS: "redacted", sc.REDACTION_COUNT: 1,
                              sc.REDACTION_TYPES: ["EMAIL_ADDRESS"]})
            spans.append(llm_span(MODELS[n % len(MODELS)], input_tokens=100 + n,
                                  output_tokens=20 + n % 50, span_id=n + 1,
                                  error="timeout" if n % 50 == 0 else None, extra=extra))
        reqs.append(request(spans, service=service))
    return merge(*reqs).SerializeToString()


def _time(payload: bytes, chain: list[Any], iterations: int) -> float:
    req_type = trace_service_pb2.ExportTraceServiceRequest
    t0 = time.perf_counter()
    for _ in range(iterations):
        req = req_type.FromString(payload)
        ctx = BatchContext(Signal.TRACES)
        for p in chain:
            req = _run_sync(p.process(req, ctx))
        req.SerializeToString()
        if ctx.derived_logs:
            logs_service_pb2.ExportLogsServiceRequest(
                resource_logs=ctx.derived_logs).SerializeToString()
    return iterations * SPANS / (time.perf_counter() - t0)


def run(quick: bool = False) -> str:
    """Measure and return the Markdown section for docs/PERFORMANCE.md."""
    rounds, iterations = (3, 10) if quick else (7, 60)
    payload = _batch()
    c = cost.create(cost.default_config())
    m = metrics.create(metrics.default_config())
    lg = logs.create(logs.default_config())
    k = calls.create(calls.default_config())
    variants = {"cost": [c], "+metrics": [c, m], "+metrics+logs": [c, m, lg],
                "+calls+metrics+logs": [c, k, m, lg]}
    for chain in variants.values():
        _time(payload, chain, 3)  # warm caches, attribute sets, allocator
    rates: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(rounds):
        for name, chain in variants.items():
            rates[name].append(_time(payload, chain, iterations))
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{k} {v[-1]:,.0f} spans/s" for k, v in rates.items()), file=sys.stderr, flush=True)
    lines = [
        "## Derived metrics and inference logs",
        "",
        f"512-span LLM batches (4 services, 10 models, 5 teams, 7 features), {rounds} rounds x "
        f"{iterations} batches, medians; one process, same run; decode + chain + encode.",
        "",
        "| chain | spans/s | ratio to cost alone |",
        "|---|---|---|",
    ]
    for name in variants:
        ratio = statistics.median(a / b for a, b in zip(rates[name], rates["cost"], strict=True))
        lines.append(f"| {name} | {statistics.median(rates[name]):,.0f} | {ratio:.2f}x |")
    lines += ["", "Command: `.venv/bin/python -m bench derived`"
              + (" --quick" if quick else "") + "."]
    return "\n".join(lines) + "\n"
