"""Agent runs and tool calls, as the OpenTelemetry GenAI utilities (opentelemetry-util-genai,
the official instrumentations' span writer) emit them: their duration is recorded by operation,
agent or tool name and error.type; they are never counted as model calls; names are bounded."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.genai.handler import TelemetryHandler
from pydantic import ValidationError

import processors.metrics as metrics
from processors.metrics.config import Dimension, MetricsConfig
from sidecar import semconv as sc
from sidecar.component import BatchContext, Signal


def _agent_run(agent: str, tools: list[tuple[str, bool]]):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = TelemetryHandler(tracer_provider=provider)
    with handler.invoke_local_agent(agent_name=agent):
        for name, ok in tools:
            try:
                with handler.tool(name, tool_call_id=f"call-{name}"):
                    if not ok:
                        raise PermissionError("refused")
            except PermissionError:
                pass
    return encode_spans(exporter.get_finished_spans())


def _durations(proc) -> dict[tuple, int]:
    req = proc.collect()
    out: dict[tuple, int] = {}
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == sc.METRIC_OPERATION_DURATION:
                    for p in m.histogram.data_points:
                        a = {kv.key: kv.value.string_value for kv in p.attributes}
                        key = (a.get(sc.GENAI_OPERATION_NAME), a.get(sc.GENAI_AGENT_NAME)
                               or a.get(sc.GENAI_TOOL_NAME), a.get(sc.ERROR_TYPE))
                        out[key] = out.get(key, 0) + p.count
                elif m.name == sc.METRIC_REQUESTS:
                    assert not m.sum.data_points, "agent and tool spans are not model calls"
    return out


def _run(proc, request) -> None:
    asyncio.run(proc.process(request, BatchContext(Signal.TRACES)))


def test_agent_and_tool_durations_by_name_and_error():
    proc = metrics.create(metrics.default_config())
    _run(proc, _agent_run("planner", [("lookup_order", True), ("refund_order", False)]))
    _run(proc, _agent_run("planner", [("lookup_order", True)]))
    assert _durations(proc) == {
        ("invoke_agent", "planner", None): 2,
        ("execute_tool", "lookup_order", None): 2,
        ("execute_tool", "refund_order", "PermissionError"): 1,
    }


def test_tool_names_are_bounded_and_the_overflow_counted():
    proc = metrics.create(MetricsConfig(agent_tool_limit=2))
    _run(proc, _agent_run("a", [(f"tool_{i}", True) for i in range(5)]))
    got = _durations(proc)
    assert got[("execute_tool", "_other", None)] == 3
    assert sum(n for (op, _, _), n in got.items() if op == "execute_tool") == 5
    assert proc.overflow_counter.labels(sc.GENAI_TOOL_NAME)._value.get() == 3


def test_a_dimension_may_not_take_the_agent_or_tool_label():
    for name in (sc.GENAI_AGENT_NAME, sc.GENAI_TOOL_NAME):
        with pytest.raises(ValidationError, match="set by the processor itself"):
            Dimension(name=name, span_keys=["x"])
