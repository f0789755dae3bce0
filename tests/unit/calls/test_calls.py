"""The genai_calls processor: one Anthropic call reported by two spans (the instrumentation's
and the SDK's own) is counted once in the metrics and the inference logs, whichever span
arrives first, in one request or two, and through a real pipeline's ticks and shutdown."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import processors.calls as calls
import processors.cost as cost
import processors.logs as logs
import processors.metrics as metrics
from processors.calls.config import CallsConfig
from processors.calls.processor import CallsProcessor
from sidecar import otlpjson
from sidecar import semconv as sc
from sidecar.component import BatchContext, Signal
from sidecar.pipeline import Pipeline
from sidecar.telemetry import Telemetry
from tests.llm_spans import llm_span, request, split_by_scope

PAIR = json.loads((Path(calls.__file__).parent / "testdata" /
                   "openllmetry_parent_with_sdk_child.json").read_text())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _openinference_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """OpenInference's anthropic LLM span (llm.* keys, INTERNAL) over the SDK's span."""
    parent = llm_span(span_id=0xB0B, trace_id=0xFEED, extra={}, name="Messages")
    parent["kind"] = 1
    parent["attributes"] = [
        {"key": k, "value": v} for k, v in (
            ("openinference.span.kind", {"stringValue": "LLM"}),
            ("llm.provider", {"stringValue": "anthropic"}),
            ("llm.model_name", {"stringValue": "claude-sonnet-4-5-20250929"}),
            ("llm.token_count.prompt", {"intValue": "1200"}),
            ("llm.token_count.completion", {"intValue": "300"}))]
    child = llm_span(model="claude-sonnet-4-5-20250929", provider="anthropic",
                     input_tokens=1200, output_tokens=300, span_id=0xC01D, trace_id=0xFEED,
                     name="anthropic.messages.create")
    child["parentSpanId"] = f"{0xB0B:016x}"
    a = request([parent], service="support-bot")
    b = request([child], service="support-bot", scope=sc.GENAI_SCOPE_ANTHROPIC_SDK)
    return otlpjson.to_dict(a), otlpjson.to_dict(b)


class Chain:
    """cost -> genai_calls -> genai_metrics -> inference_logs, run as the pipeline runs them."""

    def __init__(self, window: float = 30.0, **settings: Any) -> None:
        self.clock = Clock()
        self.stages = [
            cost.create(cost.default_config()),
            CallsProcessor(CallsConfig(pairing_window=window, **settings), clock=self.clock),
            metrics.create(metrics.default_config()),
            logs.create(logs.default_config()),
        ]
        self.records: list[Any] = []

    @property
    def calls(self) -> CallsProcessor:
        return self.stages[1]

    def send(self, doc: dict[str, Any] | None, tick: bool = False, final: bool = False) -> None:
        req = (otlpjson.from_dict(Signal.TRACES, doc) if doc is not None
               else otlpjson.from_dict(Signal.TRACES, {}))
        ctx = BatchContext(Signal.TRACES, tick=tick, final=final)

        async def run() -> None:
            out = req
            for stage in self.stages:
                out = await stage.process(out, ctx)

        asyncio.run(run())
        self.records += [r for rl in ctx.derived_logs for sl in rl.scope_logs
                         for r in sl.log_records]

    def counted(self) -> tuple[int, float, int]:
        """(calls in gen_ai.client.requests, sum of gen_ai.client.operation.cost, records)."""
        req = self.stages[2].collect()
        n, usd = 0, 0.0
        for rm in req.resource_metrics if req else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == sc.METRIC_REQUESTS:
                        n += sum(int(p.as_double or p.as_int) for p in m.sum.data_points)
                    elif m.name == sc.METRIC_OPERATION_COST:
                        usd += sum(p.sum for p in m.histogram.data_points)
        return n, usd, len(self.records)


def _sdk_cost(pair: tuple[dict[str, Any], dict[str, Any]]) -> float:
    chain = Chain(window=0)
    chain.send(pair[1])
    return chain.counted()[1]


PAIRS = {"openllmetry": split_by_scope(PAIR, sc.GENAI_SCOPE_ANTHROPIC_SDK),
         "openinference": _openinference_pair()}


@pytest.mark.parametrize("library", sorted(PAIRS))
@pytest.mark.parametrize("order", ["parent_first", "sdk_first"])
def test_two_spans_in_two_requests_count_once(library, order):
    parent, child = PAIRS[library]
    expected_usd = _sdk_cost(PAIRS[library])
    assert expected_usd > 0
    chain = Chain()
    first, second = (parent, child) if order == "parent_first" else (child, parent)
    chain.send(first)
    chain.clock.now += 5
    chain.send(second)
    chain.clock.now += 60
    chain.send(None, tick=True)
    n, usd, records = chain.counted()
    assert (n, records) == (1, 1)
    assert usd == pytest.approx(expected_usd)  # the SDK span's own counts are the ones kept
    assert [r.span_id.hex() for r in chain.records] == [
        s["spanId"] for rs in child["resourceSpans"] for ss in rs["scopeSpans"]
        for s in ss["spans"]]
    assert chain.calls.pending == 0


@pytest.mark.parametrize("library", sorted(PAIRS))
def test_without_pairing_the_same_requests_count_twice(library):
    """What the stage fixes: with the window off, the split pair is billed twice."""
    parent, child = PAIRS[library]
    chain = Chain(window=0)
    chain.send(parent)
    chain.send(child)
    assert chain.counted()[0] == 2


def test_both_spans_in_one_request_count_once_and_nothing_is_held():
    chain = Chain()
    chain.send(PAIR)
    assert chain.counted()[0] == 1
    assert chain.calls.pending == 0


def test_a_held_call_without_a_child_is_released_once_its_window_closes():
    parent, _ = PAIRS["openllmetry"]
    chain = Chain(window=30)
    chain.send(parent)
    assert chain.counted()[0] == 0 and chain.calls.pending == 1
    chain.clock.now += 29
    chain.send(None, tick=True)
    assert chain.counted()[0] == 0
    chain.clock.now += 2
    chain.send(None, tick=True)
    n, usd, records = chain.counted()
    assert (n, records) == (1, 1) and usd > 0
    chain.clock.now += 60
    chain.send(None, tick=True)
    assert chain.counted()[0] == 1  # released once


def test_a_child_after_the_window_no_longer_cancels_the_parent():
    """Documented bound: past the window, both count."""
    parent, child = PAIRS["openllmetry"]
    chain = Chain(window=10)
    chain.send(parent)
    chain.clock.now += 11
    chain.send(child)
    assert chain.counted()[0] == 2


def test_a_retried_request_is_held_once():
    parent, child = PAIRS["openllmetry"]
    chain = Chain()
    chain.send(parent)
    chain.send(parent)
    assert chain.calls.pending == 1
    chain.send(child)
    assert chain.counted()[0] == 1


def test_other_providers_are_never_held():
    chain = Chain()
    chain.send(otlpjson.to_dict(request([llm_span("gpt-4o")])))
    assert chain.counted()[0] == 1 and chain.calls.pending == 0


def test_final_tick_releases_everything_held():
    parent, _ = PAIRS["openinference"]
    chain = Chain()
    chain.send(parent)
    chain.send(None, tick=True, final=True)
    assert chain.counted()[0] == 1 and chain.calls.pending == 0


def test_bounds_release_the_oldest_early_and_count_it():
    chain = Chain()
    chain.stages[1] = proc = CallsProcessor(CallsConfig(max_pending=2), clock=chain.clock)
    for i in range(5):
        span = llm_span("claude-haiku-4-5", provider="anthropic", span_id=100 + i, trace_id=9)
        chain.send(otlpjson.to_dict(request([span])))
    assert proc.pending == 2
    assert chain.counted()[0] == 3
    assert proc.pairing.labels("overflow")._value.get() == 3


def test_held_copies_are_independent_of_the_request():
    """A held call is a copy: the request it came in may be freed or reused."""
    parent, _ = PAIRS["openllmetry"]
    chain = Chain()
    req = otlpjson.from_dict(Signal.TRACES, parent)
    ctx = BatchContext(Signal.TRACES)

    async def run() -> None:
        out = req
        for stage in chain.stages[:2]:
            out = await stage.process(out, ctx)

    asyncio.run(run())
    held = next(iter(chain.calls._held.values())).entry
    req.Clear()
    assert held.span.span_id and held.call.is_model_call
    assert any(kv.key == sc.COST_AMOUNT for kv in held.span.attributes)  # priced before held


class _Exporter:
    timeout = 5.0

    def __init__(self) -> None:
        self.sent: list[tuple[Signal, bytes]] = []

    async def export(self, signal, payload, deadline):
        self.sent.append((signal, payload))
        from sidecar.component import RESPONSE_TYPES

        return RESPONSE_TYPES[signal]()


def test_the_pipeline_releases_held_calls_on_its_shutdown_tick():
    """Through a real Pipeline: the held inference record is exported at shutdown."""
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

    parent, _ = PAIRS["openllmetry"]
    exporter = _Exporter()
    stages = [("cost", cost.create(cost.default_config())),
              ("genai_calls", calls.create(calls.default_config())),
              ("inference_logs", logs.create(logs.default_config()))]
    pipe = Pipeline({Signal.TRACES: stages}, exporter, Telemetry("test"))

    async def run() -> None:
        await pipe.start()
        payload = otlpjson.from_dict(Signal.TRACES, parent).SerializeToString()
        loop = asyncio.get_running_loop()
        await pipe.handle(Signal.TRACES, payload, loop.time() + 5)
        assert [s for s, _ in exporter.sent] == [Signal.TRACES]  # span on time, no record yet
        await pipe.shutdown()
        await pipe.shutdown()

    asyncio.run(run())
    logs_sent = [p for s, p in exporter.sent if s is Signal.LOGS]
    assert len(logs_sent) == 1
    req = logs_service_pb2.ExportLogsServiceRequest.FromString(logs_sent[0])
    assert sum(len(sl.log_records) for rl in req.resource_logs for sl in rl.scope_logs) == 1


def _agent_span(trace_id: int, span_id: int, agent: str, start_offset: int = 0):
    span = llm_span(input_tokens=None, output_tokens=None, span_id=span_id, trace_id=trace_id,
                    name=f"invoke_agent {agent}",
                    extra={sc.GENAI_OPERATION_NAME: "invoke_agent", sc.GENAI_AGENT_NAME: agent,
                           sc.GENAI_CONVERSATION_ID: "conv-42"})
    span["startTimeUnixNano"] = str(int(span["startTimeUnixNano"]) + start_offset)
    return span


def _histograms(chain: Chain, name: str) -> list[tuple[dict[str, str], int, float]]:
    req = chain.stages[2].collect()
    return [({kv.key: kv.value.string_value for kv in p.attributes}, p.count, p.sum)
            for rm in (req.resource_metrics if req else ())
            for sm in rm.scope_metrics for m in sm.metrics
            if m.name == name for p in m.histogram.data_points]


def _counter(chain: Chain, name: str) -> list[tuple[dict[str, str], float]]:
    req = chain.stages[2].collect()
    return [({kv.key: kv.value.string_value for kv in p.attributes}, p.as_double or p.as_int)
            for rm in (req.resource_metrics if req else ())
            for sm in rm.scope_metrics for m in sm.metrics
            if m.name == name for p in m.sum.data_points]


def test_a_run_over_several_requests_is_rolled_up_once_when_idle():
    chain = Chain(run_idle=30)
    calls_ = [llm_span("gpt-4o", span_id=0x500 + i, trace_id=0x77) for i in range(5)]
    chain.send(otlpjson.to_dict(request(
        [_agent_span(0x77, 0x4FF, "planner"), _agent_span(0x77, 0x4FE, "searcher", 1000),
         *calls_[:3]], service="agents")))
    chain.clock.now += 20
    chain.send(otlpjson.to_dict(request(calls_[3:], service="agents")))
    chain.clock.now += 20  # 20 s idle: not yet
    chain.send(None, tick=True)
    assert _histograms(chain, sc.METRIC_TRACE_CALLS) == []
    chain.clock.now += 11
    chain.send(None, tick=True)
    n, usd, _ = chain.counted()
    [(attrs, count, calls_sum)] = _histograms(chain, sc.METRIC_TRACE_CALLS)
    assert attrs == {sc.SERVICE_NAME: "agents", sc.GENAI_AGENT_NAME: "planner"}  # root-most
    assert (count, calls_sum) == (1, 5) and n == 5
    [(_, count, cost_sum)] = _histograms(chain, sc.METRIC_TRACE_COST)
    assert count == 1 and cost_sum == pytest.approx(usd)
    assert chain.calls.runs_followed == 0


def test_a_run_with_a_held_call_waits_for_it():
    """The run's roll-up includes a call held for pairing, however short run_idle is."""
    parent, _ = PAIRS["openllmetry"]
    chain = Chain(window=30, run_idle=5)
    chain.send(parent)
    chain.clock.now += 10
    chain.send(None, tick=True)
    assert _histograms(chain, sc.METRIC_TRACE_CALLS) == []
    chain.clock.now += 21  # released at 30 s, then idle 5 s more
    chain.send(None, tick=True)
    chain.clock.now += 6
    chain.send(None, tick=True)
    assert [(c, s_) for _, c, s_ in _histograms(chain, sc.METRIC_TRACE_CALLS)] == [(1, 1)]


def test_a_runaway_run_is_reported_once_while_it_is_going():
    chain = Chain(runaway_calls=3, runaway_cost_usd=None)
    spans = [llm_span("gpt-4o", span_id=0x600 + i, trace_id=0x88) for i in range(5)]
    chain.send(otlpjson.to_dict(request([_agent_span(0x88, 0x5FF, "looper"), *spans[:2]])))
    assert _counter(chain, sc.METRIC_RUNAWAY_RUNS) == []
    ctx_records = len(chain.records)
    chain.send(otlpjson.to_dict(request(spans[2:])))
    runaway = [r for r in chain.records[ctx_records:] if r.event_name == sc.EVENT_RUNAWAY]
    assert len(runaway) == 1
    attrs = {kv.key: kv.value for kv in runaway[0].attributes}
    assert attrs[sc.GENAI_RUNAWAY_THRESHOLD].string_value == "calls"
    assert attrs[sc.LOG_RUN_CALLS].int_value == 3  # so far, when the limit was crossed
    assert attrs[sc.GENAI_AGENT_NAME].string_value == "looper"
    assert attrs[sc.GENAI_CONVERSATION_ID].string_value == "conv-42"
    assert runaway[0].trace_id == (0x88).to_bytes(16, "big")
    assert _counter(chain, sc.METRIC_RUNAWAY_RUNS) == [(
        {sc.SERVICE_NAME: "chat-app", sc.GENAI_AGENT_NAME: "looper",
         sc.GENAI_RUNAWAY_THRESHOLD: "calls", sc.GENAI_RUNAWAY_SCOPE: "run"}, 1)]
    assert attrs[sc.GENAI_RUNAWAY_SCOPE].string_value == "run"
    chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", span_id=0x700, trace_id=0x88)])))
    assert sum(r.event_name == sc.EVENT_RUNAWAY for r in chain.records) == 1


def test_runs_are_bounded_and_the_final_tick_rolls_up_the_rest():
    chain = Chain(max_runs=3)
    for t in range(5):
        chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0x900 + t)])))
    assert chain.calls.runs_followed == 3
    assert sum(c for _, c, _ in _histograms(chain, sc.METRIC_TRACE_CALLS)) == 2
    chain.send(None, tick=True, final=True)
    assert sum(c for _, c, _ in _histograms(chain, sc.METRIC_TRACE_CALLS)) == 5
    assert chain.calls.runs_followed == 0


def test_inference_records_carry_the_sessions_totals_so_far():
    """Two runs of one conversation, three requests: each record has the session's cost and
    calls so far, this call included; another session starts from zero."""
    chain = Chain()
    conv = {sc.GENAI_CONVERSATION_ID: "conv-7"}
    chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0xA1, extra=conv)])))
    chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0xA2, extra=conv)])))
    chain.send(otlpjson.to_dict(request([
        llm_span("gpt-4o-mini", trace_id=0xA2),  # same run: the run's session
        llm_span("gpt-4o", trace_id=0xB1, extra={"session.id": "other"})])))
    got = []
    for r in chain.records:
        a = {kv.key: kv.value for kv in r.attributes}
        got.append((a[sc.GENAI_CONVERSATION_ID].string_value,
                    a[sc.LOG_SESSION_CALLS].int_value, a[sc.LOG_SESSION_COST].double_value))
    assert [(s, n) for s, n, _ in got] == [("conv-7", 1), ("conv-7", 2), ("conv-7", 3),
                                           ("other", 1)]
    assert got[1][2] == pytest.approx(2 * got[0][2]) and got[2][2] > got[1][2]
    _, usd, _ = chain.counted()
    assert got[2][2] + got[3][2] == pytest.approx(usd)


def test_a_runaway_session_is_reported_once_across_its_runs():
    """Many short runs of one conversation: no run crosses its limit, the session does, once;
    the record carries the session's totals and the trace of the call that crossed it."""
    chain = Chain(runaway_calls=None, runaway_cost_usd=None, runaway_session_calls=3,
                  runaway_session_cost_usd=None)
    conv = {sc.GENAI_CONVERSATION_ID: "conv-loop"}
    for t in range(2):
        chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0xD0 + t,
                                                      extra=conv)])))
    assert not [r for r in chain.records if r.event_name == sc.EVENT_RUNAWAY]
    chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0xD2, extra=conv),
                                         llm_span("gpt-4o", trace_id=0xD3, extra=conv)])))
    chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0xE0,
                                                  extra={sc.GENAI_CONVERSATION_ID: "x"})])))
    [runaway] = [r for r in chain.records if r.event_name == sc.EVENT_RUNAWAY]
    attrs = {kv.key: kv.value for kv in runaway.attributes}
    assert attrs[sc.GENAI_RUNAWAY_SCOPE].string_value == "session"
    assert attrs[sc.GENAI_RUNAWAY_THRESHOLD].string_value == "calls"
    assert attrs[sc.LOG_SESSION_CALLS].int_value == 3
    assert attrs[sc.GENAI_CONVERSATION_ID].string_value == "conv-loop"
    assert sc.LOG_RUN_CALLS not in attrs
    assert runaway.trace_id == (0xD2).to_bytes(16, "big")
    assert _counter(chain, sc.METRIC_RUNAWAY_RUNS) == [(
        {sc.SERVICE_NAME: "chat-app", sc.GENAI_RUNAWAY_THRESHOLD: "calls",
         sc.GENAI_RUNAWAY_SCOPE: "session"}, 1)]


def test_a_session_cost_limit_counts_every_run_of_it():
    """Two runs of one conversation, each under the limit, together over it."""
    probe = Chain()
    probe.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0xEF)])))
    _, one_call, _ = probe.counted()
    assert one_call > 0
    chain = Chain(runaway_calls=None, runaway_cost_usd=None, runaway_session_calls=None,
                  runaway_session_cost_usd=1.5 * one_call)
    conv = {sc.GENAI_CONVERSATION_ID: "conv-cost"}
    chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0xF0, extra=conv)])))
    assert not [r for r in chain.records if r.event_name == sc.EVENT_RUNAWAY]
    chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0xF1, extra=conv)])))
    [runaway] = [r for r in chain.records if r.event_name == sc.EVENT_RUNAWAY]
    attrs = {kv.key: kv.value for kv in runaway.attributes}
    assert (attrs[sc.GENAI_RUNAWAY_THRESHOLD].string_value,
            attrs[sc.GENAI_RUNAWAY_SCOPE].string_value) == ("cost", "session")
    assert attrs[sc.LOG_SESSION_COST].double_value == pytest.approx(2 * one_call)


def test_sessions_are_forgotten_when_idle():
    chain = Chain(session_idle=60)
    conv = {sc.GENAI_CONVERSATION_ID: "conv-9"}
    chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0xC1, extra=conv)])))
    chain.clock.now += 61
    chain.send(otlpjson.to_dict(request([llm_span("gpt-4o", trace_id=0xC2, extra=conv)])))
    calls_ = [{kv.key: kv.value for kv in r.attributes}[sc.LOG_SESSION_CALLS].int_value
              for r in chain.records]
    assert calls_ == [1, 1]
