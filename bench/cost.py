"""The cost processor on 512-span LLM batches against a pass-through measured in the same run.

    python -m bench cost [--quick]

Pass-through = decode + encode the same serialized batch (what any configured chain pays);
cost = decode + ``CostProcessor.process`` + encode. Batches are the LLM spans of every golden
convention family (OpenAI, Anthropic incl. the SDK's duplicate span, Bedrock, Vertex, Azure,
OpenInference, OpenLIT, Vercel AI SDK, Pydantic AI, unknown models, non-LLM spans), each
file's resource and scopes once with their spans repeated to 512 spans,
with no content or with 1 KB of prompt content per span (``gen_ai.input.messages``). Each round
times both variants alternately in one process; the table shows medians over rounds and the
ratio cost / pass-through in spans per second (target >= 0.8).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

import processors.cost as cost
from sidecar import otlpjson
from sidecar.component import BatchContext, Signal

SPANS = 512
GOLDEN = Path(cost.__file__).parent / "testdata" / "golden"


def _batch(content_bytes: int) -> bytes:
    """One request: each golden file's resource and scopes once, their spans repeated."""
    out = trace_service_pb2.ExportTraceServiceRequest()
    groups = []  # (target ScopeSpans, its golden spans)
    for path in sorted(GOLDEN.glob("*.input.json")):
        req = otlpjson.loads(Signal.TRACES, path.read_text("utf-8"))
        for rs in req.resource_spans:
            target_rs = out.resource_spans.add()
            target_rs.resource.CopyFrom(rs.resource)
            for ss in rs.scope_spans:
                target_ss = target_rs.scope_spans.add()
                target_ss.scope.CopyFrom(ss.scope)
                groups.append((target_ss, list(ss.spans)))
    text = ("Summarize the quarterly report for the board. " * (content_bytes // 46 + 1))
    text = text[:content_bytes]
    n = rep = 0
    while n < SPANS:
        rep += 1
        for target, spans in groups:
            for span in spans:
                if n == SPANS:
                    break
                s = target.spans.add()
                s.CopyFrom(span)
                n += 1
                # Unique ids per repetition, parent links kept (the SDK child / parent pairs).
                s.span_id = _shift(span.span_id, rep)
                if span.parent_span_id:
                    s.parent_span_id = _shift(span.parent_span_id, rep)
                if content_bytes:
                    kv = s.attributes.add()
                    kv.key = "gen_ai.input.messages"
                    kv.value.string_value = (
                        '[{"role":"user","parts":[{"type":"text","content":"' + text + '"}]}]'
                    )
    return out.SerializeToString()


def _shift(span_id: bytes, rep: int) -> bytes:
    return ((int.from_bytes(span_id, "big") + (rep << 40)) % (1 << 64)).to_bytes(8, "big")


def _run_sync(coro: Any) -> Any:
    """Drive a coroutine that never suspends (process() of cost awaits nothing)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("process() suspended; this benchmark expects it not to")


def _measure(payload: bytes, processor: Any, iterations: int) -> tuple[float, float]:
    req_type = trace_service_pb2.ExportTraceServiceRequest
    t0 = time.perf_counter()
    for _ in range(iterations):
        req_type.FromString(payload).SerializeToString()
    passthrough = iterations * SPANS / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(iterations):
        req = req_type.FromString(payload)
        _run_sync(processor.process(req, BatchContext(Signal.TRACES))).SerializeToString()
    with_cost = iterations * SPANS / (time.perf_counter() - t0)
    return passthrough, with_cost


def run(quick: bool = False) -> str:
    """Measure and return the Markdown section for docs/PERFORMANCE.md."""
    rounds, iterations = (3, 20) if quick else (9, 120)
    processor = cost.create(cost.default_config())
    rows = []
    for content in (0, 1024):
        payload = _batch(content)
        _measure(payload, processor, 5)  # warm the lookup cache and the allocator
        base, withc = [], []
        for r in range(rounds):
            p, c = _measure(payload, processor, iterations)
            base.append(p)
            withc.append(c)
            print(f"  content {content} B round {r + 1}/{rounds}: pass-through {p:,.0f} "
                  f"spans/s, cost {c:,.0f} spans/s", file=sys.stderr, flush=True)
        mb, mc = statistics.median(base), statistics.median(withc)
        ratios = [c / p for p, c in zip(base, withc, strict=True)]
        rows.append((content, len(payload), mb, mc, statistics.median(ratios)))
    lines = [
        "## Cost processor",
        "",
        f"512-span LLM batches (all golden convention families), {rounds} rounds x "
        f"{iterations} batches, medians; one process, same run. Pass-through = decode + encode.",
        "",
        "| prompt content | batch bytes | pass-through spans/s | cost spans/s | ratio "
        "| added per span |",
        "|---|---|---|---|---|---|",
    ]
    for content, size, mb, mc, ratio in rows:
        added = 1e6 / mc - 1e6 / mb
        lines.append(f"| {content} B | {size:,} | {mb:,.0f} | {mc:,.0f} | {ratio:.2f}x "
                     f"| {added:.1f} µs |")
    quick_flag = " --quick" if quick else ""
    lines += ["", f"Target: ratio >= 0.80. Command: `.venv/bin/python -m bench cost{quick_flag}`."]
    return "\n".join(lines) + "\n"
