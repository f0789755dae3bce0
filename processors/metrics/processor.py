"""The ``genai_metrics`` processor: GenAI metrics (OTLP) derived from LLM spans.

Reads the normalized view of `processors.genai` and the cost attributes the ``cost`` processor
wrote (so it runs after it), aggregates per attribute set (processors/metrics/aggregate.py),
and exports the cumulative totals every ``interval`` through `Host.export_derived`:

* ``gen_ai.client.token.usage`` (histogram, ``{token}``, ``gen_ai.token.type`` input / output),
* ``gen_ai.client.operation.duration`` and ``gen_ai.client.operation.time_to_first_chunk``
  (histograms, ``s``; the latter for streams whose span carries it),
* ``gen_ai.client.operation.cost`` (histogram, ``USD``; the amount on priced and preexisting
  spans, so its sum equals the sum of ``gen_ai.usage.cost.amount`` forwarded),
* counters: requests by outcome (``error.type``), unpriced spans by reason, spend by cost part,
  responses by normalized finish reason, and spans by redaction status / entity type,
* ``gen_ai.client.budget`` (gauge, ``USD``): the configured ``budgets``, one series per budget
  and period, labelled like the spend series it is compared with (e.g. ``team``); in every
  export from the first one on, whatever the traffic.

Only real model calls count (`LLMCall.is_model_call`: not agent aggregates, not the duplicate
parent of an SDK span). Every request metric carries provider, operation, request and response
model, ``service.name`` of the span's resource, and the configured attribution dimensions.

The export runs as an asyncio task on the event loop: it must go through the pipeline's
exporter, which lives on the loop. Series idle for ``series_expiration`` are dropped at the next
export, and attribution values idle that long give their slot back (aggregate.py says why the
opentelemetry-sdk's instruments are not used).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from prometheus_client import Counter as PromCounter

from processors import genai
from processors.genai import routing
from processors.metrics.aggregate import Aggregator
from processors.metrics.config import (
    CALL_BUCKETS,
    DURATION_BUCKETS,
    TOKEN_BUCKETS,
    Dimension,
    MetricsConfig,
)
from sidecar import semconv as sc
from sidecar.component import BatchContext, Host, Processor, Signal, count_items

log = logging.getLogger(__name__)

#: Finish reasons of every emitter, lower-cased -> the closed set the metrics carry.
FINISH_REASONS = {
    "stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "complete": "stop",
    "eos": "stop", "finish_reason_unspecified": "other",
    "length": "length", "max_tokens": "length", "max_output_tokens": "length",
    "model_length": "length", "model_context_window_exceeded": "length",
    "tool_calls": "tool_calls", "tool_use": "tool_calls", "function_call": "tool_calls",
    "tool-calls": "tool_calls",
    "content_filter": "content_filter", "content-filter": "content_filter",
    "safety": "content_filter", "refusal": "content_filter", "recitation": "content_filter",
    "blocklist": "content_filter", "prohibited_content": "content_filter",
    "spii": "content_filter", "guardrail_intervened": "content_filter",
    "error": "error",
}
_FINISH_OTHER = "other"

#: Cost parts the cost processor writes -> ``gen_ai.cost.type``.
_COST_PARTS = ((sc.COST_INPUT, "input"), (sc.COST_OUTPUT, "output"),
               (sc.COST_CACHE_READ, "cache_read"), (sc.COST_CACHE_WRITE, "cache_write"))
_COUNTED_STATUSES = frozenset({sc.COST_STATUS_PRICED, sc.COST_STATUS_PREEXISTING})
_UNKNOWN_SERVICE = "unknown_service"
_INPUT = (sc.GENAI_TOKEN_TYPE, "input")
_OUTPUT = (sc.GENAI_TOKEN_TYPE, "output")
_CACHE_READ = {sc.GENAI_TOKEN_TYPE: "cache_read"}
_CACHE_WRITE = {sc.GENAI_TOKEN_TYPE: "cache_write"}


def _scalar(value: Any) -> Any:
    """A scalar AnyValue as Python (None for arrays, maps, bytes, unset)."""
    kind = value.WhichOneof("value")
    if kind in ("string_value", "int_value", "double_value", "bool_value"):
        return getattr(value, kind)
    return None


#: Counter increments of one batch: (counter, attribute items in insertion order) -> sum.
_Adds = dict[tuple[Any, tuple[tuple[str, Any], ...]], float]


def _add(adds: _Adds, counter: Any, value: float, attributes: dict[str, Any]) -> None:
    key = (counter, tuple(attributes.items()))
    adds[key] = adds.get(key, 0) + value


def finish_reason(raw: str) -> str:
    """A finish reason of any emitter in the closed set stop, length, tool_calls,
    content_filter, error, other."""
    return FINISH_REASONS.get(raw.strip().lower(), _FINISH_OTHER)


def split(request: metrics_service_pb2.ExportMetricsServiceRequest,
          max_bytes: int) -> list[metrics_service_pb2.ExportMetricsServiceRequest]:
    """``request`` as requests of at most about ``max_bytes`` each, data points of one metric
    spread over several when needed (resource, scope and metric identity repeated in each)."""
    if request.ByteSize() <= max_bytes:
        return [request]
    parts: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            current, size = None, 0
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                points = getattr(metric, kind).data_points
                target = None
                for dp in points:
                    n = dp.ByteSize() + 8
                    if current is None or size + n > max_bytes:
                        current = metrics_service_pb2.ExportMetricsServiceRequest()
                        out_rm = current.resource_metrics.add()
                        out_rm.resource.CopyFrom(rm.resource)
                        out_sm = out_rm.scope_metrics.add()
                        out_sm.scope.CopyFrom(sm.scope)
                        parts.append(current)
                        size, target = 256, None
                    if target is None:
                        shell = current.resource_metrics[0].scope_metrics[0].metrics.add()
                        shell.CopyFrom(metric)
                        target = getattr(shell, kind).data_points
                        del target[:]
                    target.add().CopyFrom(dp)
                    size += n
    return parts


class _Dimension:
    """One attribution dimension with its bounded set of values (first come, first kept)."""

    __slots__ = ("cfg", "expiration", "overflowed", "seen")

    def __init__(self, cfg: Dimension, overflowed: Any, expiration: float | None) -> None:
        self.cfg = cfg
        #: value -> when it was last seen (``time.monotonic``).
        self.seen: dict[str, float] = {}
        self.expiration = expiration
        #: The Prometheus counter child counting values folded into ``overflow_value``.
        self.overflowed = overflowed

    def value(self, span_attrs: dict[str, Any], resource_attrs: dict[str, Any]) -> str | None:
        raw = None
        for key in self.cfg.span_keys:
            raw = span_attrs.get(key)
            if raw is not None:
                break
        else:
            for key in self.cfg.resource_keys:
                raw = resource_attrs.get(key)
                if raw is not None:
                    break
        if raw is None or raw == "":
            return self.cfg.missing_value
        text = genai.bounded(str(raw)[: self.cfg.max_length])
        now = time.monotonic()
        seen = self.seen
        if text in seen:
            seen[text] = now
            return text
        if len(seen) >= self.cfg.limit and self.expiration is not None:
            # Values not seen for the expiration give their slot back.
            for old in [v for v, t in seen.items() if now - t > self.expiration]:
                del seen[old]
        if len(seen) < self.cfg.limit:
            seen[text] = now
            return text
        self.overflowed.inc()
        return self.cfg.overflow_value


class MetricsProcessor(Processor):
    """See the module docstring.

    Threading: ``process`` records on the event loop (SDK instruments are thread-safe); the
    periodic export is an asyncio task that collects and encodes in a worker thread and
    exports on the loop. ``flush`` exports the current totals now.
    """

    signals = frozenset({Signal.TRACES})
    #: LLM spans and the redaction summary of spans with content (GenAI spans too).
    interest = routing.WIRE

    def __init__(self, config: MetricsConfig) -> None:
        self.config = config
        self._low_yield_min = config.low_yield_min_input_tokens
        self._low_yield_ratio = config.low_yield_max_output_ratio
        span_keys = {k for d in config.dimensions for k in d.span_keys}
        self._span_keys = frozenset({
            sc.COST_AMOUNT, sc.COST_CURRENCY, sc.COST_STATUS, sc.COST_REASON,
            *(k for k, _ in _COST_PARTS), *sc.FINISH_REASONS_KEYS, *span_keys})
        self._resource_keys = frozenset(
            {sc.SERVICE_NAME, *(k for d in config.dimensions for k in d.resource_keys)})
        # service.instance.id: one per process, so that the cumulative series of two sidecar
        # replicas stay apart (Prometheus label instance) instead of overwriting each other.
        agg = self._agg = Aggregator({sc.SERVICE_NAME: sc.DERIVED_SERVICE_NAME,
                                      sc.SERVICE_INSTANCE_ID: str(uuid.uuid4())},
                                     sc.DERIVED_SCOPE, config.cardinality_limit,
                                     config.series_expiration)
        self._tokens = agg.histogram(
            sc.METRIC_TOKEN_USAGE, sc.UNIT_TOKEN, "Number of input and output tokens used.",
            TOKEN_BUCKETS)
        self._duration = agg.histogram(
            sc.METRIC_OPERATION_DURATION, sc.UNIT_SECONDS, "GenAI operation duration.",
            DURATION_BUCKETS)
        self._ttfc = agg.histogram(
            sc.METRIC_TIME_TO_FIRST_CHUNK, sc.UNIT_SECONDS,
            "Time to receive the first chunk of a streaming response.", DURATION_BUCKETS)
        self._cost = agg.histogram(
            sc.METRIC_OPERATION_COST, sc.UNIT_USD,
            "Cost of one GenAI operation (gen_ai.usage.cost.amount).", config.cost_buckets)
        self._requests = agg.counter(
            sc.METRIC_REQUESTS, sc.UNIT_REQUEST,
            "GenAI model calls, by outcome (error.type set on errors).")
        self._unpriced = agg.counter(
            sc.METRIC_UNPRICED, sc.UNIT_SPAN,
            "GenAI model calls that could not be priced, by reason.")
        self._cost_parts = agg.counter(
            sc.METRIC_COST_USAGE, sc.UNIT_USD,
            "Spend by cost part (input, output, cache_read, cache_write).")
        self._finish = agg.counter(
            sc.METRIC_FINISH_REASONS, sc.UNIT_RESPONSE, "Responses by normalized finish reason.")
        self._cache_tokens = agg.counter(
            sc.METRIC_TOKEN_CACHE, sc.UNIT_TOKEN,
            "Prompt-cache tokens (part of the input tokens), by cache_read / cache_write.")
        self._low_yield = agg.counter(
            sc.METRIC_LOW_YIELD_CALLS, sc.UNIT_CALL,
            "Model calls with a large input and a small output (low_yield_* settings).")
        self._trace_cost = agg.histogram(
            sc.METRIC_TRACE_COST, sc.UNIT_USD,
            "Cost of one run (a trace with model calls), recorded once it went idle.",
            config.cost_buckets)
        self._trace_calls = agg.histogram(
            sc.METRIC_TRACE_CALLS, sc.UNIT_CALL,
            "Model calls of one run (a trace with model calls), recorded once it went idle.",
            CALL_BUCKETS)
        self._runaways = agg.counter(
            sc.METRIC_RUNAWAY_RUNS, sc.UNIT_RUN,
            "Runs and sessions that crossed a runaway threshold (cost or calls so far), "
            "while going.")
        self._pii_spans = agg.counter(
            sc.METRIC_REDACTION_SPANS, sc.UNIT_SPAN,
            "Spans whose content went through redaction, by status.")
        self._pii_entities = agg.counter(
            sc.METRIC_REDACTION_ENTITIES, sc.UNIT_SPAN,
            "Spans in which an entity type was found and replaced.")
        budgets = agg.gauge(sc.METRIC_BUDGET, sc.UNIT_USD,
                            "Configured spend budget of a dimension value, by period.")
        for b in config.budgets:
            for period, amount in b.periods():
                budgets.set(amount, ((b.dimension, b.value), (sc.GENAI_BUDGET_PERIOD, period)))
        self.overflow_counter = PromCounter(
            sc.OWN_METRICS_OVERFLOW,
            "Attribution values folded into the overflow value, by dimension.",
            ["dimension"], registry=None)
        self.exports_counter = PromCounter(
            sc.OWN_METRICS_EXPORTS, "Exports of the derived GenAI metrics, by outcome.",
            ["outcome"], registry=None)
        self._dims = [_Dimension(d, self.overflow_counter.labels(d.name),
                                 config.series_expiration)
                      for d in config.dimensions]
        # Agent and tool names label the duration of invoke_agent / execute_tool spans, with
        # the same first-come bound and overflow value as the attribution dimensions.
        self._agent_names, self._tool_names = (
            # model_construct: the names are reserved for these labels, not user dimensions.
            _Dimension(Dimension.model_construct(
                name=key, span_keys=[key], resource_keys=[], limit=config.agent_tool_limit,
                overflow_value="_other", missing_value=None, max_length=64),
                       self.overflow_counter.labels(key), config.series_expiration)
            for key in (sc.GENAI_AGENT_NAME, sc.GENAI_TOOL_NAME))
        self._host: Host | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, host: Host) -> None:
        if self._host is not None:
            return
        self._host = host
        telemetry = getattr(host, "telemetry", None)
        if telemetry is not None:
            for c in (self.overflow_counter, self.exports_counter):
                with contextlib.suppress(ValueError):  # already registered
                    telemetry.registry.register(c)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def shutdown(self) -> None:
        """Stop the periodic export, export the final totals once, release the SDK."""
        if self._stopped:
            return
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._host is not None:
            await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.config.interval)
            await self.flush()

    async def flush(self) -> bool:
        """Export the cumulative totals now; True when the downstream accepted them."""
        if self._host is None:
            return False
        async with self._lock:  # one export at a time: totals must not arrive out of order
            request = self.collect()
            if request is None:
                return True
            try:
                # Built afresh each time from the totals: a failed export holds nothing back.
                for part in split(request, int(self.config.max_export_mib * (1 << 20))):
                    await asyncio.wait_for(self._host.export_derived(Signal.METRICS, part),
                                           self.config.export_timeout)
            except Exception as exc:  # counted; the next export carries the totals
                self.exports_counter.labels("failed").inc()
                log.warning("derived metrics export failed; the next one carries the totals",
                            extra={"exc_type": type(exc).__name__})
                return False
            self.exports_counter.labels("exported").inc()
            return True

    @property
    def expired_series(self) -> int:
        return self._agg.expired

    def collect(self) -> metrics_service_pb2.ExportMetricsServiceRequest | None:
        """The current totals and budgets as an OTLP export request (None when there is
        nothing: no budget configured and nothing recorded)."""
        request = self._agg.collect()
        if request is None or count_items(Signal.METRICS, request) == 0:
            return None
        return request

    # -- the transform --------------------------------------------------------------------
    async def process(self, batch: Any, ctx: BatchContext) -> Any:
        resources: dict[int, tuple[Any, dict[str, Any]]] = {}
        adds: _Adds = {}
        for entry in genai.counted(batch, ctx):
            call = entry.call
            self._record(entry.span, call, self._resource_of(entry, resources), adds)
        if not ctx.tick:
            self._record_agents_and_tools(batch, ctx, resources)
        self._record_runs(*genai.runs(ctx), adds)
        self._record_redaction(ctx.containers(batch), adds)
        # Counters are summed per attribute set over the batch first: one SDK call per series
        # instead of one per span (the SDK's per-call attribute handling dominates the cost).
        for (counter, items), value in adds.items():
            counter.add(value, items)
        ctx.untouched()  # derives only
        return batch

    def _resource_of(self, entry: genai.Entry,
                     resources: dict[int, tuple[Any, dict[str, Any]]]) -> dict[str, Any]:
        """The resource attributes the metrics read, picked once per resource of a batch (the
        resource is kept in ``resources`` beside its id, so the id stays its own)."""
        held = resources.get(id(entry.resource))
        if held is None:
            held = resources[id(entry.resource)] = (
                entry.resource, self._pick(entry.resource.attributes, self._resource_keys))
        return held[1]

    @staticmethod
    def _pick(attributes: Iterable[Any], keys: frozenset[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kv in attributes:
            if kv.key in keys and kv.key not in out:
                out[kv.key] = kv.value
        return out

    def _record(self, span: Any, call: genai.LLMCall, resource_raw: dict[str, Any],
                adds: _Adds) -> None:
        raw = self._pick(span.attributes, self._span_keys)
        span_attrs = {k: _scalar(v) for k, v in raw.items()}
        resource_attrs = {k: _scalar(v) for k, v in resource_raw.items()}
        service = resource_attrs.get(sc.SERVICE_NAME)
        base: dict[str, Any] = {sc.SERVICE_NAME: genai.bounded(str(service)) if service
                                else _UNKNOWN_SERVICE,
                                sc.GENAI_OPERATION_NAME: str(call.operation)}
        if call.provider:
            base[sc.GENAI_PROVIDER_NAME] = call.provider
        if call.request_model:
            base[sc.GENAI_REQUEST_MODEL] = call.request_model
        if call.response_model:
            base[sc.GENAI_RESPONSE_MODEL] = call.response_model
        for dim in self._dims:
            value = dim.value(span_attrs, resource_attrs)
            if value is not None:
                base[dim.cfg.name] = value
        outcome = base
        if call.error_type:
            outcome = {**base, sc.ERROR_TYPE: call.error_type}

        _add(adds, self._requests, 1, outcome)
        if span.end_time_unix_nano >= span.start_time_unix_nano > 0:
            self._duration.record((span.end_time_unix_nano - span.start_time_unix_nano) / 1e9,
                                  tuple(outcome.items()))
        if call.time_to_first_chunk is not None and call.time_to_first_chunk >= 0:
            self._ttfc.record(call.time_to_first_chunk, tuple(base.items()))
        if call.input_tokens is not None:
            self._tokens.record(call.input_tokens, (*base.items(), _INPUT))
        if call.output_tokens is not None:
            self._tokens.record(call.output_tokens, (*base.items(), _OUTPUT))
        if call.cache_read_tokens:
            _add(adds, self._cache_tokens, call.cache_read_tokens, {**base, **_CACHE_READ})
        if call.cache_write_tokens:
            _add(adds, self._cache_tokens, call.cache_write_tokens, {**base, **_CACHE_WRITE})
        low_yield = self._low_yield_min
        if (low_yield is not None and call.input_tokens is not None
                and call.output_tokens is not None and call.input_tokens >= low_yield
                and call.output_tokens <= self._low_yield_ratio * call.input_tokens):
            _add(adds, self._low_yield, 1, base)

        status = span_attrs.get(sc.COST_STATUS)
        amount = span_attrs.get(sc.COST_AMOUNT)
        currency = span_attrs.get(sc.COST_CURRENCY)
        if (status in _COUNTED_STATUSES and isinstance(amount, int | float)
                and not isinstance(amount, bool) and amount >= 0
                and currency in (None, "USD")):
            self._cost.record(amount, tuple(base.items()))
            for key, part in _COST_PARTS:
                value = span_attrs.get(key)
                if isinstance(value, int | float) and value > 0:
                    _add(adds, self._cost_parts, value, {**base, sc.GENAI_COST_TYPE: part})
        elif status == sc.COST_STATUS_UNPRICED:
            reason = span_attrs.get(sc.COST_REASON) or "unknown"
            _add(adds, self._unpriced, 1, {**base, sc.COST_REASON: str(reason)})

        for key in sc.FINISH_REASONS_KEYS:
            value = raw.get(key)
            if value is not None:
                for reason in genai.string_list(value):
                    _add(adds, self._finish, 1,
                         {**base, sc.GENAI_FINISH_REASON: finish_reason(reason)})
                break

    def _run_attrs(self, service: str | None, agent: str | None) -> dict[str, Any]:
        attrs: dict[str, Any] = {sc.SERVICE_NAME: service or _UNKNOWN_SERVICE}
        name = self._agent_names.value({sc.GENAI_AGENT_NAME: agent}, {})
        if name is not None:
            attrs[sc.GENAI_AGENT_NAME] = name
        return attrs

    def _record_runs(self, totals: Iterable[genai.RunTotal],
                     runaways: Iterable[genai.Runaway], adds: _Adds) -> None:
        """The roll-ups of idle runs and the runaways ``genai_calls`` found."""
        for run in totals:
            attrs = tuple(self._run_attrs(run.service, run.agent).items())
            self._trace_cost.record(run.cost, attrs)
            self._trace_calls.record(run.calls, attrs)
        for r in runaways:
            _add(adds, self._runaways, 1, {**self._run_attrs(r.service, r.agent),
                                          sc.GENAI_RUNAWAY_THRESHOLD: r.threshold,
                                          sc.GENAI_RUNAWAY_SCOPE: r.scope})

    def _record_agents_and_tools(self, batch: Any, ctx: BatchContext,
                                 resources: dict[int, tuple[Any, dict[str, Any]]]) -> None:
        """gen_ai.client.operation.duration of agent runs and tool calls (never priced), by
        operation, agent or tool name and error.type."""
        for entry in genai.batch_view(batch, ctx.scratch, ctx.scopes):
            call = entry.call
            op = call.operation
            if op is not genai.Operation.INVOKE_AGENT and op is not genai.Operation.EXECUTE_TOOL:
                continue
            span = entry.span
            if not span.end_time_unix_nano >= span.start_time_unix_nano > 0:
                continue
            raw = self._resource_of(entry, resources)
            service = _scalar(raw[sc.SERVICE_NAME]) if sc.SERVICE_NAME in raw else None
            attrs: dict[str, Any] = {
                sc.SERVICE_NAME: genai.bounded(str(service)) if service else _UNKNOWN_SERVICE,
                sc.GENAI_OPERATION_NAME: str(op)}
            if op is genai.Operation.INVOKE_AGENT:
                name = self._agent_names.value({sc.GENAI_AGENT_NAME: call.agent_name}, {})
                if name is not None:
                    attrs[sc.GENAI_AGENT_NAME] = name
            else:
                name = self._tool_names.value({sc.GENAI_TOOL_NAME: call.tool_name}, {})
                if name is not None:
                    attrs[sc.GENAI_TOOL_NAME] = name
            if call.error_type:
                attrs[sc.ERROR_TYPE] = call.error_type
            self._duration.record((span.end_time_unix_nano - span.start_time_unix_nano) / 1e9,
                                  tuple(attrs.items()))

    def _record_redaction(self, scopes: Iterable[tuple[Any, Any]], adds: _Adds) -> None:
        spans_counter, entities_counter = self._pii_spans, self._pii_entities
        for rs, ss in scopes:
            service = None
            for span in ss.spans:
                status = types = None
                for kv in span.attributes:
                    if kv.key == sc.REDACTION_STATUS:
                        status = kv.value.string_value
                    elif kv.key == sc.REDACTION_TYPES:
                        types = kv.value
                if not status:
                    continue
                if service is None:
                    found = self._pick(rs.resource.attributes, frozenset({sc.SERVICE_NAME}))
                    value = found.get(sc.SERVICE_NAME)
                    service = (value.string_value if value is not None else "") or \
                        _UNKNOWN_SERVICE
                _add(adds, spans_counter, 1,
                     {sc.SERVICE_NAME: service, sc.REDACTION_STATUS: status})
                if types is not None:
                    for t in genai.string_list(types):
                        _add(adds, entities_counter, 1,
                             {sc.SERVICE_NAME: service, sc.REDACTION_TYPE: t})

