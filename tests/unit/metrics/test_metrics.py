"""The genai_metrics processor: aggregation, attribution and its limits, temporality, the cost
sum identity, export through the host and flush on shutdown."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.metrics.v1 import metrics_pb2
from pydantic import ValidationError

import processors.cost as cost
import processors.metrics as metrics
from processors.metrics.config import DURATION_BUCKETS, TOKEN_BUCKETS, Dimension, MetricsConfig
from processors.metrics.processor import finish_reason
from sidecar import semconv as sc
from sidecar.component import BatchContext, Signal
from tests.llm_spans import FakeHost, llm_span, merge, request

CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE


def _points(req: Any, name: str) -> list[tuple[dict[str, Any], Any]]:
    """(attributes, data point) of metric ``name`` in an export request."""
    out = []
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == name:
                    data = getattr(m, m.WhichOneof("data"))
                    for dp in data.data_points:
                        attrs = {kv.key: getattr(kv.value, kv.value.WhichOneof("value"))
                                 for kv in dp.attributes}
                        out.append((attrs, dp))
    return out


def _metric(req: Any, name: str) -> metrics_pb2.Metric:
    return next(m for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
                if m.name == name)


async def _run(processor, *requests) -> None:
    for r in requests:
        await processor.process(r, BatchContext(Signal.TRACES))


async def test_tokens_duration_and_requests_are_aggregated_per_attribute_set() -> None:
    """Token counts go to input/output histogram points with the conventions' buckets; calls
    are counted by outcome; durations come from the span times."""
    p = metrics.create(MetricsConfig(dimensions=[]))
    await _run(p, request([
        llm_span("gpt-4o", input_tokens=100, output_tokens=20, duration_s=1.0),
        llm_span("gpt-4o", input_tokens=300, output_tokens=60, duration_s=3.0),
        llm_span("gpt-4o", input_tokens=5, output_tokens=None, error="timeout", duration_s=0.5),
    ]))
    req = p.collect()
    tokens = {a[sc.GENAI_TOKEN_TYPE]: dp for a, dp in _points(req, sc.METRIC_TOKEN_USAGE)}
    assert (tokens["input"].count, tokens["input"].sum) == (3, 405)
    assert (tokens["output"].count, tokens["output"].sum) == (2, 80)
    assert list(tokens["input"].explicit_bounds) == list(TOKEN_BUCKETS)
    attrs = next(a for a, _ in _points(req, sc.METRIC_TOKEN_USAGE))
    assert attrs == {sc.SERVICE_NAME: "chat-app", sc.GENAI_PROVIDER_NAME: "openai",
                     sc.GENAI_OPERATION_NAME: "chat", sc.GENAI_REQUEST_MODEL: "gpt-4o",
                     sc.GENAI_RESPONSE_MODEL: "gpt-4o", sc.GENAI_TOKEN_TYPE: attrs[
                         sc.GENAI_TOKEN_TYPE]}
    calls = {a.get(sc.ERROR_TYPE): dp.as_double or dp.as_int
             for a, dp in _points(req, sc.METRIC_REQUESTS)}
    assert calls == {None: 2, "timeout": 1}
    durations = {a.get(sc.ERROR_TYPE): dp for a, dp in _points(req, sc.METRIC_OPERATION_DURATION)}
    assert durations[None].sum == pytest.approx(4.0) and durations[None].count == 2
    assert list(durations[None].explicit_bounds) == list(DURATION_BUCKETS)
    assert _metric(req, sc.METRIC_TOKEN_USAGE).unit == sc.UNIT_TOKEN
    assert _metric(req, sc.METRIC_OPERATION_DURATION).unit == sc.UNIT_SECONDS


async def test_time_to_first_chunk_only_for_spans_that_carry_it() -> None:
    """Streaming spans with a time to first chunk feed the histogram; others do not."""
    p = metrics.create(MetricsConfig(dimensions=[]))
    await _run(p, request([
        llm_span(extra={"gen_ai.response.time_to_first_chunk": 0.25}),
        llm_span(),
    ]))
    (_, dp), = _points(p.collect(), sc.METRIC_TIME_TO_FIRST_CHUNK)
    assert (dp.count, dp.sum) == (1, 0.25)


async def test_prompt_cache_tokens_are_counted_by_kind_beside_the_input() -> None:
    """Cache reads and writes are counted apart (subsets of the input histogram's sum, which
    stays inclusive): the cache share of input tokens is their ratio."""
    p = metrics.create(MetricsConfig(dimensions=[]))
    await _run(p, request([
        llm_span("claude-sonnet-4-5", provider="anthropic", input_tokens=1000, extra={
            "gen_ai.usage.cache_read.input_tokens": 600,
            "gen_ai.usage.cache_creation.input_tokens": 100}),
        llm_span("claude-sonnet-4-5", provider="anthropic", input_tokens=400, extra={
            "gen_ai.usage.cache_read.input_tokens": 200}),
        llm_span("claude-sonnet-4-5", provider="anthropic", input_tokens=50),
    ]))
    req = p.collect()
    cache = {a[sc.GENAI_TOKEN_TYPE]: dp.as_int or dp.as_double
             for a, dp in _points(req, sc.METRIC_TOKEN_CACHE)}
    assert cache == {"cache_read": 800, "cache_write": 100}
    tokens = {a[sc.GENAI_TOKEN_TYPE]: dp for a, dp in _points(req, sc.METRIC_TOKEN_USAGE)}
    assert tokens["input"].sum == 1450  # inclusive of the cache tokens
    assert _metric(req, sc.METRIC_TOKEN_CACHE).unit == sc.UNIT_TOKEN


@pytest.mark.parametrize("inp,out,counted", [
    (8000, 160, True), (8000, 161, False), (7999, 0, False), (50_000, 12, True),
    (None, 5, False), (9000, None, False)])
async def test_low_yield_calls_are_large_inputs_with_small_outputs(inp, out, counted) -> None:
    p = metrics.create(MetricsConfig(dimensions=[]))
    await _run(p, request([llm_span("gpt-4o", input_tokens=inp, output_tokens=out)]))
    points = _points(p.collect(), sc.METRIC_LOW_YIELD_CALLS)
    assert [dp.as_int for _, dp in points] == ([1] if counted else [])


async def test_low_yield_is_configurable_and_can_be_off() -> None:
    span = llm_span("gpt-4o", input_tokens=500, output_tokens=40)
    tuned = metrics.create(MetricsConfig(dimensions=[], low_yield_min_input_tokens=400,
                                         low_yield_max_output_ratio=0.1))
    off = metrics.create(MetricsConfig(dimensions=[], low_yield_min_input_tokens=None))
    for p in (tuned, off):
        await _run(p, request([span]))
    assert [dp.as_int for _, dp in _points(tuned.collect(), sc.METRIC_LOW_YIELD_CALLS)] == [1]
    assert _points(off.collect(), sc.METRIC_LOW_YIELD_CALLS) == []


async def test_aggregates_and_duplicates_are_not_counted() -> None:
    """An Anthropic SDK span under an instrumentation span is one call, counted once; agent
    runs (sums of their calls) are not calls."""
    parent = llm_span("claude-sonnet-4-5", provider="anthropic", span_id=1, input_tokens=50,
                      output_tokens=5)
    child = llm_span("claude-sonnet-4-5", provider="anthropic", span_id=2, input_tokens=50,
                     output_tokens=5)
    child["parentSpanId"] = f"{1:016x}"
    batch = merge(request([parent]),
                  request([child], scope=sc.GENAI_SCOPE_ANTHROPIC_SDK),
                  request([llm_span(name="invoke_agent helper", extra={
                      "gen_ai.operation.name": "invoke_agent"})]))
    p = metrics.create(MetricsConfig(dimensions=[]))
    await _run(p, batch)
    calls = sum(dp.as_int for _, dp in _points(p.collect(), sc.METRIC_REQUESTS))
    assert calls == 1


async def test_attribution_dimensions_from_span_then_resource() -> None:
    """A span attribute wins over the resource's; absent everywhere gives missing_value."""
    p = metrics.create(metrics.default_config())
    await _run(p, merge(
        request([llm_span(extra={"team": "search"}), llm_span()], resource={"team": "core"}),
        request([llm_span()], service="batch-job"),
    ))
    seen = {(a[sc.SERVICE_NAME], a["team"], a["feature"])
            for a, _ in _points(p.collect(), sc.METRIC_REQUESTS)}
    assert seen == {("chat-app", "search", "unset"), ("chat-app", "core", "unset"),
                    ("batch-job", "unset", "unset")}


async def test_attribution_overflow_folds_new_values_and_counts_them() -> None:
    """Beyond ``limit`` distinct values, new ones become the overflow value (counted)."""
    dim = Dimension(name="tenant", span_keys=["tenant"], limit=2, overflow_value="_other")
    p = metrics.create(MetricsConfig(dimensions=[dim]))
    await _run(p, request([llm_span(extra={"tenant": t}) for t in ("a", "b", "c", "d", "a")]))
    req = p.collect()
    per = {a["tenant"]: dp.as_int for a, dp in _points(req, sc.METRIC_REQUESTS)}
    assert per == {"a": 2, "b": 1, "_other": 2}
    assert p.overflow_counter.labels("tenant")._value.get() == 2


async def test_sdk_cardinality_limit_bounds_series_per_metric() -> None:
    """More attribute sets than ``cardinality_limit`` end in the SDK's one overflow series."""
    p = metrics.create(MetricsConfig(dimensions=[], cardinality_limit=10))
    await _run(p, request([llm_span(f"model-{i}") for i in range(40)]))
    points = _points(p.collect(), sc.METRIC_REQUESTS)
    assert len(points) == 10 + 1
    assert sum(dp.as_int for _, dp in points) == 40
    assert any(a.get("otel.metric.overflow") is True for a, _ in points)


async def test_temporality_is_cumulative_across_exports() -> None:
    """Each export carries the totals since start, with a fixed start time."""
    p = metrics.create(MetricsConfig(dimensions=[]))
    await _run(p, request([llm_span(input_tokens=10)]))
    first = p.collect()
    await _run(p, request([llm_span(input_tokens=30)]))
    second = p.collect()
    for req in (first, second):
        for name in (sc.METRIC_TOKEN_USAGE, sc.METRIC_REQUESTS):
            m = _metric(req, name)
            assert getattr(m, m.WhichOneof("data")).aggregation_temporality == CUMULATIVE
    assert _metric(first, sc.METRIC_REQUESTS).sum.is_monotonic

    def inp(req):
        return next(dp for a, dp in _points(req, sc.METRIC_TOKEN_USAGE)
                    if a[sc.GENAI_TOKEN_TYPE] == "input")

    assert (inp(first).sum, inp(second).sum) == (10, 40)
    assert inp(first).start_time_unix_nano == inp(second).start_time_unix_nano


def _cost_attrs(req) -> list[float]:
    return [kv.value.double_value for rs in req.resource_spans for ss in rs.scope_spans
            for s in ss.spans for kv in s.attributes if kv.key == sc.COST_AMOUNT]


async def test_cost_sum_identity_after_the_cost_processor() -> None:
    """Sum of gen_ai.client.operation.cost == sum of gen_ai.usage.cost.amount forwarded;
    unpriced spans are counted by reason, never as $0; parts add up to the spend counter."""
    batch = request([
        llm_span("gpt-4o", input_tokens=1200, output_tokens=300),
        llm_span("gpt-4o-mini", input_tokens=5000, output_tokens=900,
                 extra={"gen_ai.usage.cache_read.input_tokens": 2000}),
        llm_span("claude-sonnet-4-5", provider="anthropic", input_tokens=800, output_tokens=90),
        llm_span("no-such-model-xyz", input_tokens=10, output_tokens=10),
        llm_span("gpt-4o", input_tokens=None, output_tokens=None),
        llm_span("gpt-4o", extra={sc.COST_AMOUNT: 0.5, sc.COST_CURRENCY: "USD"}),
    ])
    ctx = BatchContext(Signal.TRACES)
    priced = await cost.create(cost.default_config()).process(batch, ctx)
    p = metrics.create(MetricsConfig(dimensions=[]))
    await p.process(priced, ctx)
    req = p.collect()
    written = _cost_attrs(priced)
    assert len(written) == 4  # three priced + one preexisting
    hist = _points(req, sc.METRIC_OPERATION_COST)
    assert math.fsum(dp.sum for _, dp in hist) == pytest.approx(math.fsum(written), rel=1e-12)
    assert sum(dp.count for _, dp in hist) == 4
    assert _metric(req, sc.METRIC_OPERATION_COST).unit == sc.UNIT_USD
    unpriced = {a[sc.COST_REASON]: dp.as_int for a, dp in _points(req, sc.METRIC_UNPRICED)}
    assert sum(unpriced.values()) == 1
    parts = {a[sc.GENAI_COST_TYPE] for a, _ in _points(req, sc.METRIC_COST_USAGE)}
    assert {"input", "output", "cache_read"} <= parts


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param("stop", "stop", id="openai-stop"),
    pytest.param("end_turn", "stop", id="anthropic-end-turn"),
    pytest.param("MAX_TOKENS", "length", id="gemini-max-tokens"),
    pytest.param("max_tokens", "length", id="anthropic-max-tokens"),
    pytest.param("tool_use", "tool_calls", id="anthropic-tool-use"),
    pytest.param("SAFETY", "content_filter", id="gemini-safety"),
    pytest.param("something-new", "other", id="unknown"),
])
def test_finish_reasons_are_normalized(raw: str, expected: str) -> None:
    assert finish_reason(raw) == expected


async def test_finish_reasons_counted_per_choice() -> None:
    """Arrays (one per choice) and JSON-encoded arrays both count each reason."""
    p = metrics.create(MetricsConfig(dimensions=[]))
    await _run(p, request([
        llm_span(extra={"gen_ai.response.finish_reasons": ["stop", "length"]}),
        llm_span(extra={"gen_ai.response.finish_reasons": '["max_tokens"]'}),
    ]))
    got = {a[sc.GENAI_FINISH_REASON]: dp.as_int
           for a, dp in _points(p.collect(), sc.METRIC_FINISH_REASONS)}
    assert got == {"stop": 1, "length": 2}


async def test_redaction_summary_is_counted_by_status_and_entity_type() -> None:
    p = metrics.create(MetricsConfig(dimensions=[]))
    await _run(p, request([
        llm_span(extra={sc.REDACTION_STATUS: "redacted",
                        sc.REDACTION_TYPES: ["EMAIL_ADDRESS", "PERSON"]}),
        llm_span(extra={sc.REDACTION_STATUS: "failed"}),
        llm_span(extra={sc.REDACTION_STATUS: "clean"}),
        {"traceId": "0" * 31 + "1", "spanId": "00000000000000ff", "name": "http",
         "attributes": [{"key": sc.REDACTION_STATUS, "value": {"stringValue": "redacted"}},
                        {"key": sc.REDACTION_TYPES,
                         "value": {"arrayValue": {"values": [{"stringValue": "PERSON"}]}}}]},
    ]))
    req = p.collect()
    spans = {a[sc.REDACTION_STATUS]: dp.as_int for a, dp in _points(req, sc.METRIC_REDACTION_SPANS)}
    assert spans == {"redacted": 2, "failed": 1, "clean": 1}
    ents = {a[sc.REDACTION_TYPE]: dp.as_int for a, dp in _points(req, sc.METRIC_REDACTION_ENTITIES)}
    assert ents == {"EMAIL_ADDRESS": 1, "PERSON": 2}


async def test_the_batch_is_returned_unchanged() -> None:
    batch = request([llm_span(), llm_span(error="boom")])
    before = batch.SerializeToString()
    p = metrics.create(metrics.default_config())
    out = await p.process(batch, BatchContext(Signal.TRACES))
    assert out.SerializeToString() == before


async def test_shutdown_flushes_what_was_counted_through_the_host() -> None:
    """SIGTERM path: with an hour-long interval, shutdown still exports the totals once."""
    host = FakeHost()
    p = metrics.create(MetricsConfig(interval=3600, dimensions=[]))
    await p.start(host)
    await _run(p, request([llm_span(), llm_span()]))
    assert host.exports == []
    await p.shutdown()
    await p.shutdown()
    assert len(host.exports) == 1
    signal, req = host.exports[0]
    assert signal is Signal.METRICS
    assert sum(dp.as_int for _, dp in _points(req, sc.METRIC_REQUESTS)) == 2
    res = {kv.key: kv.value.string_value for kv in req.resource_metrics[0].resource.attributes}
    assert res[sc.SERVICE_NAME] == sc.DERIVED_SERVICE_NAME


async def test_a_failed_export_is_counted_and_the_next_carries_the_totals() -> None:
    host = FakeHost()
    p = metrics.create(MetricsConfig(interval=3600, dimensions=[]))
    await p.start(host)
    await _run(p, request([llm_span()]))
    host.fail = 1
    assert await p.flush() is False
    await _run(p, request([llm_span()]))
    assert await p.flush() is True
    assert sum(dp.as_int for _, dp in _points(host.exports[-1][1], sc.METRIC_REQUESTS)) == 2
    assert p.exports_counter.labels("failed")._value.get() == 1
    await p.shutdown()


async def test_nothing_recorded_means_nothing_exported() -> None:
    host = FakeHost()
    p = metrics.create(MetricsConfig(interval=3600))
    await p.start(host)
    await p.shutdown()
    assert host.exports == []


@pytest.mark.parametrize(("settings", "message"), [
    pytest.param({"dimensions": [{"name": "team"}]}, "give span_keys", id="no-keys"),
    pytest.param({"dimensions": [{"name": "error.type", "span_keys": ["x"]}]},
                 "set by the processor", id="reserved-name"),
    pytest.param({"dimensions": [{"name": "Team!", "span_keys": ["x"]}]}, "invalid dimension",
                 id="bad-name"),
    pytest.param({"dimensions": [{"name": "t", "span_keys": ["x"]},
                                 {"name": "t", "span_keys": ["y"]}]}, "unique", id="repeated"),
    pytest.param({"cost_buckets": [1, 0.5]}, "strictly increasing", id="buckets-order"),
    pytest.param({"interval": "0s"}, "greater than or equal", id="interval-zero"),
])
def test_invalid_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MetricsConfig.model_validate(settings)


_MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "no-such-model", "gemini-2.0-flash")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_MODELS), st.integers(0, 2_000_000),
                          st.integers(0, 200_000), st.integers(0, 1000)), min_size=1,
                max_size=25))
def test_cost_sum_identity_holds_for_any_batch(calls) -> None:
    """Property: whatever the calls, the cost histogram's sum is the sum of the amounts."""
    spans = [llm_span(m, provider="anthropic" if m.startswith("claude") else
                      "gcp.gemini" if m.startswith("gemini") else "openai",
                      input_tokens=i, output_tokens=o,
                      extra={"gen_ai.usage.cache_read.input_tokens": min(c, i)})
             for m, i, o, c in calls]

    async def go():
        batch = request(spans)
        ctx = BatchContext(Signal.TRACES)
        priced = await cost.create(cost.default_config()).process(batch, ctx)
        p = metrics.create(MetricsConfig(dimensions=[]))
        await p.process(priced, ctx)
        return priced, p.collect()

    priced, req = asyncio.run(go())
    hist = _points(req, sc.METRIC_OPERATION_COST)
    written = _cost_attrs(priced)
    assert sum(dp.count for _, dp in hist) == len(written)
    assert math.fsum(dp.sum for _, dp in hist) == pytest.approx(math.fsum(written), rel=1e-12,
                                                                abs=1e-15)


async def test_idle_series_expire_and_their_slots_come_back(monkeypatch) -> None:
    """After a burst of junk model names fills the series limit, new models fold into the
    overflow series; once the junk is idle past series_expiration it is dropped at the next
    export and a new model gets a series of its own again."""
    from processors.metrics import aggregate

    now = [1_000_000_000_000]
    p = metrics.create(MetricsConfig(dimensions=[], cardinality_limit=10,
                                     series_expiration=60))
    p._agg._clock = lambda: now[0]
    for inst in p._agg.instruments:
        inst._clock = p._agg._clock
    await _run(p, request([llm_span(f"junk-{i}") for i in range(30)]))
    now[0] += 30 * 10**9
    await _run(p, request([llm_span("gpt-4o")]))
    points = {a.get(sc.GENAI_REQUEST_MODEL): dp for a, dp in _points(p.collect(),
                                                                     sc.METRIC_REQUESTS)}
    assert "gpt-4o" not in points and any(
        a.get(aggregate.OVERFLOW_KEY) for a, _ in _points(p.collect(), sc.METRIC_REQUESTS))
    now[0] += 45 * 10**9  # junk idle 75 s, the overflow series (gpt-4o) 45 s
    p.collect()
    await _run(p, request([llm_span("gpt-4o"), llm_span("claude-sonnet-4-6")]))
    points = {a.get(sc.GENAI_REQUEST_MODEL): dp for a, dp in _points(p.collect(),
                                                                     sc.METRIC_REQUESTS)}
    assert not any(m and m.startswith("junk-") for m in points)
    assert points["gpt-4o"].as_int == 1 and points["claude-sonnet-4-6"].as_int == 1
    assert points["gpt-4o"].start_time_unix_nano == now[0]  # a new series: a reset
    assert p._agg.expired > 0


async def test_idle_attribution_values_give_their_slot_back(monkeypatch) -> None:
    import processors.metrics.processor as mp

    clock = [100.0]
    monkeypatch.setattr(mp.time, "monotonic", lambda: clock[0])
    dim = Dimension(name="tenant", span_keys=["tenant"], limit=2)
    p = metrics.create(MetricsConfig(dimensions=[dim], series_expiration=60))
    await _run(p, request([llm_span(extra={"tenant": t}) for t in ("a", "b", "c")]))
    clock[0] += 61
    await _run(p, request([llm_span(extra={"tenant": "d"})]))
    per = {a["tenant"]: dp.as_int for a, dp in _points(p.collect(), sc.METRIC_REQUESTS)}
    assert per["d"] == 1 and per["_other"] == 1
    assert p.overflow_counter.labels("tenant")._value.get() == 1


async def test_no_expiration_keeps_series_for_the_life_of_the_process() -> None:
    p = metrics.create(MetricsConfig(dimensions=[], series_expiration=None))
    await _run(p, request([llm_span("gpt-4o")]))
    p._agg._clock = lambda: 2**63 - 1  # the end of time, in nanoseconds
    assert _points(p.collect(), sc.METRIC_REQUESTS)


async def test_a_large_export_is_split_and_every_point_arrives() -> None:
    """Many series (long model names, each capped at 256 characters) go out as several
    requests under max_export_mib; together they hold every data point exactly once."""
    from processors.metrics.processor import split

    p = metrics.create(MetricsConfig(dimensions=[], max_export_mib=0.05))
    await _run(p, request([llm_span(f"{i}-" + "m" * 300) for i in range(200)]))
    whole = p.collect()
    parts = split(whole, int(0.05 * (1 << 20)))
    assert len(parts) > 1
    assert all(part.ByteSize() <= 0.06 * (1 << 20) for part in parts)

    def points(reqs):
        return sorted((m.name, dp.SerializeToString()) for r in reqs for rm in r.resource_metrics
                      for sm in rm.scope_metrics for m in sm.metrics
                      for dp in getattr(m, m.WhichOneof("data")).data_points)
    assert points(parts) == points([whole])
    host = FakeHost()
    await p.start(host)
    assert await p.flush()
    assert len(host.exports) == len(parts)
    await p.shutdown()
