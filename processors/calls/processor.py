"""The ``genai_calls`` processor: one model call counted once, however its spans are batched.

One Anthropic call made through an instrumentation library (OpenLLMetry, OpenInference) is
reported by two spans: the library's LLM span and, as its child, the Anthropic SDK's own span
(shared/CONVENTIONS.md, "two spans for one call"). `processors.genai.batch_view` pairs them
when both are in one request. They often are not: the SDK span ends first and is exported in
an earlier batch, or a stream ends later. This stage pairs them across requests:

* an SDK span (scope ``com.anthropic.sdk.python``) with a parent is remembered as
  ``(trace id, parent span id)`` for ``pairing_window``; if that parent is being held, the
  parent is dropped from the derived outputs (the SDK span counts);
* a model-call span that is not an SDK span and whose SDK child was remembered is dropped;
* a model-call span that could still get an SDK child (an Anthropic model, not an SDK span,
  no child seen) is **held**: a copy of the span (cost written, content already redacted) is
  kept out of this run's derived outputs and released, counted, when the window closes
  without a child (at a later request or tick), or dropped when the child arrives;
* every other model call counts now.

The later stages (``genai_metrics``, ``inference_logs``) read the result with
`processors.genai.counted`; the spans themselves are forwarded on time and unchanged. The span
attribute ``gen_ai.usage.cost.status=duplicate`` is still only set when both spans arrive in
one request: a parent already forwarded as ``priced`` cannot be recalled, so sum costs from the
derived metrics or logs, not from span attributes.

Bounds: at most ``max_pending`` held spans and ``max_pending_mib`` of them (past either, the
oldest is released early, counted ``overflow``), at most ``max_remembered`` SDK spans. What is
held lives in this process only: at shutdown it is released (counted); a parent held when the
process is killed is lost from the derived outputs, and one released at shutdown whose SDK
child arrives after a restart is counted twice (at most what was pending).
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from prometheus_client import Counter

from processors import genai
from processors.calls.config import CallsConfig
from processors.genai import routing
from sidecar import semconv as sc
from sidecar.component import BatchContext, Host, Processor, Signal

_SDK = genai.Convention.ANTHROPIC_SDK


def may_have_sdk_child(call: genai.LLMCall) -> bool:
    """Whether another span may later report this call (an Anthropic model called through the
    Anthropic SDK under an instrumentation library's span)."""
    if call.convention is _SDK or not call.is_model_call:
        return False
    if call.provider == "anthropic":
        return True
    model = call.model
    return model is not None and "claude" in model.lower()


class _Held:
    __slots__ = ("deadline", "entry", "size")

    def __init__(self, entry: genai.Entry, deadline: float, size: int) -> None:
        self.entry = entry
        self.deadline = deadline
        self.size = size


class _Run:
    """One trace's model calls so far (a run), for its roll-up and runaway check."""

    __slots__ = ("agent", "agent_start", "calls", "cost", "crossed", "last", "pending",
                 "service", "session")

    def __init__(self, now: float) -> None:
        self.last = now
        self.calls = 0
        self.cost = 0.0
        self.pending = 0
        self.service: str | None = None
        self.agent: str | None = None
        self.agent_start = 0
        self.session: str | None = None
        self.crossed: set[str] = set()


class _Session:
    """One session's model calls so far (all its runs while followed)."""

    __slots__ = ("calls", "cost", "crossed", "last")

    def __init__(self) -> None:
        self.cost = 0.0
        self.calls = 0
        self.last = 0.0
        self.crossed: set[str] = set()


_COUNTED_STATUSES = frozenset({sc.COST_STATUS_PRICED, sc.COST_STATUS_PREEXISTING})


def _amount(span: Any) -> float:
    """The cost a counted span adds to its run (USD; 0 when not priced)."""
    status = amount = None
    for kv in span.attributes:
        if kv.key == sc.COST_STATUS:
            status = kv.value.string_value
        elif kv.key == sc.COST_AMOUNT:
            amount = kv.value.double_value
    if status in _COUNTED_STATUSES and amount is not None and amount >= 0:
        return amount
    return 0.0


def _service(resource: Any) -> str | None:
    for kv in resource.attributes:
        if kv.key == sc.SERVICE_NAME:
            return genai.bounded(kv.value.string_value) or None
    return None


class CallsProcessor(Processor):
    """See the module docstring. State is touched only on the event loop, without awaiting."""

    signals = frozenset({Signal.TRACES})
    interest = routing.WIRE

    def __init__(self, config: CallsConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.tick_interval = config.tick_interval if config.pairing_window > 0 else None
        self._clock = clock
        self._window = config.pairing_window
        self._max_bytes = int(config.max_pending_mib * (1 << 20))
        #: (trace id, span id) of a held parent -> its copy, oldest first.
        self._held: OrderedDict[tuple[bytes, bytes], _Held] = OrderedDict()
        self._held_bytes = 0
        #: (trace id, parent span id) of a seen SDK span -> when it was seen, oldest first.
        self._children: OrderedDict[tuple[bytes, bytes], float] = OrderedDict()
        #: trace id -> its run, least recently active first.
        self._runs: OrderedDict[bytes, _Run] = OrderedDict()
        #: session id -> its totals, least recently active first.
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._scope = common_pb2.InstrumentationScope(name=sc.DERIVED_SCOPE)
        self.pairing = Counter(sc.OWN_CALLS_PAIRING,
                               "Model-call spans settled across requests, by outcome.",
                               ["outcome"], registry=None)
        p = self.pairing
        self._held_c, self._released_c, self._dropped_c, self._overflow_c = (
            p.labels("held"), p.labels("released"), p.labels("duplicate_dropped"),
            p.labels("overflow"))

    async def start(self, host: Host) -> None:
        telemetry = getattr(host, "telemetry", None)
        if telemetry is not None:
            with contextlib.suppress(ValueError):  # already registered
                telemetry.registry.register(self.pairing)

    @property
    def pending(self) -> int:
        """Calls held now."""
        return len(self._held)

    @property
    def runs_followed(self) -> int:
        """Runs (traces) followed now."""
        return len(self._runs)

    async def process(self, batch: Any, ctx: BatchContext) -> Any:
        now = self._clock()
        out: list[genai.Entry] = []
        self._expire(now, out, everything=ctx.final)
        window = self._window
        entries = genai.batch_view(batch, ctx.scratch, ctx.scopes)
        for e in entries:
            call, span = e.call, e.span
            if call.operation is genai.Operation.INVOKE_AGENT:
                self._agent(e, now)
            if call.convention is _SDK and span.parent_span_id and window > 0:
                key = (span.trace_id, span.parent_span_id)
                held = self._held.pop(key, None)
                if held is not None:  # its parent came first: the parent does not count
                    self._held_bytes -= held.size
                    self._dropped_c.inc()
                    self._unpend(key[0])
                else:
                    self._remember(key, now)
            if not call.is_model_call:
                continue
            if window > 0 and call.convention is not _SDK:
                key = (span.trace_id, span.span_id)
                if key in self._children:  # its SDK child came first
                    self._dropped_c.inc()
                    continue
                if may_have_sdk_child(call):
                    if key not in self._held:  # a retried request holds it once
                        self._touch(key[0], now).pending += 1
                        self._hold(key, e, now + window, out)
                    continue
            out.append(e)
        genai.publish_counted(ctx.scratch, out)
        runaways: list[genai.Runaway] = []
        sessions: dict[int, genai.SessionTotal] = {}
        self._forget_sessions(now)
        for e in out:
            self._count(e, now, runaways, sessions, ctx)
        if sessions:
            genai.publish_sessions(ctx.scratch, sessions)
        totals = self._roll_up(now, everything=ctx.final)
        if totals or runaways:
            genai.publish_runs(ctx.scratch, totals, runaways)
        ctx.untouched()  # derives only
        return batch

    # -- runs ---------------------------------------------------------------------------
    def _touch(self, trace_id: bytes, now: float) -> _Run:
        run = self._runs.get(trace_id)
        if run is None:
            run = self._runs[trace_id] = _Run(now)
        else:
            run.last = now
            self._runs.move_to_end(trace_id)
        return run

    def _unpend(self, trace_id: bytes) -> None:
        run = self._runs.get(trace_id)
        if run is not None and run.pending:
            run.pending -= 1

    def _agent(self, e: genai.Entry, now: float) -> None:
        run = self._touch(e.span.trace_id, now)
        start = e.span.start_time_unix_nano
        if e.call.agent_name and (run.agent is None or start < run.agent_start):
            run.agent, run.agent_start = e.call.agent_name, start  # the root-most agent
        if e.call.session_id:
            run.session = e.call.session_id
        if run.service is None:
            run.service = _service(e.resource)

    def _count(self, e: genai.Entry, now: float, runaways: list[genai.Runaway],
               sessions: dict[int, genai.SessionTotal], ctx: BatchContext) -> None:
        run = self._touch(e.span.trace_id, now)
        amount = _amount(e.span)
        run.calls += 1
        run.cost += amount
        if run.service is None:
            run.service = _service(e.resource)
        if e.call.session_id:
            run.session = e.call.session_id
        session = None
        if run.session:
            session = self._sessions.get(run.session)
            if session is None:
                session = self._sessions[run.session] = _Session()
            else:
                self._sessions.move_to_end(run.session)
            session.cost += amount
            session.calls += 1
            session.last = now
            sessions[id(e.span)] = genai.SessionTotal(run.session, session.cost, session.calls)
        cfg = self.config
        self._check_runaway(e.span, run, run, sc.RUNAWAY_SCOPE_RUN, cfg.runaway_cost_usd,
                            cfg.runaway_calls, runaways, ctx)
        if session is not None:
            self._check_runaway(e.span, run, session, sc.RUNAWAY_SCOPE_SESSION,
                                cfg.runaway_session_cost_usd, cfg.runaway_session_calls,
                                runaways, ctx)

    def _check_runaway(self, span: Any, run: _Run, totals: _Run | _Session, scope: str,
                       cost_limit: float | None, calls_limit: int | None,
                       runaways: list[genai.Runaway], ctx: BatchContext) -> None:
        """Report ``totals`` (a run's or a session's) once per threshold it crossed."""
        for threshold, limit, value in (("cost", cost_limit, totals.cost),
                                        ("calls", calls_limit, totals.calls)):
            if limit is not None and value >= limit and threshold not in totals.crossed:
                totals.crossed.add(threshold)
                runaways.append(genai.Runaway(run.service, run.agent, threshold, scope))
                ctx.derived_logs.append(self._runaway_record(
                    span, run, threshold, limit, scope, totals.cost, totals.calls))

    def _forget_sessions(self, now: float) -> None:
        sessions = self._sessions
        horizon = now - self.config.session_idle
        while sessions:
            sid, s = next(iter(sessions.items()))
            if s.last > horizon and len(sessions) <= self.config.max_sessions:
                break
            del sessions[sid]

    def _roll_up(self, now: float, everything: bool) -> list[genai.RunTotal]:
        out: list[genai.RunTotal] = []
        runs = self._runs
        horizon = now - self.config.run_idle
        while runs:
            trace_id, run = next(iter(runs.items()))
            over = len(runs) > self.config.max_runs
            if run.last > horizon and not everything and not over:
                break
            if run.pending and not everything and not over:
                run.last = now  # a held call of it is still to be settled
                runs.move_to_end(trace_id)
                continue
            del runs[trace_id]
            if run.calls:
                out.append(genai.RunTotal(run.service, run.agent, run.cost, run.calls))
        return out

    def _runaway_record(self, span: Any, run: _Run, threshold: str, limit: float,
                        scope: str, cost: float, calls: int) -> logs_pb2.ResourceLogs:
        def kv(key: str, **value: Any) -> common_pb2.KeyValue:
            return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(**value))

        cost_key, calls_key = ((sc.LOG_RUN_COST, sc.LOG_RUN_CALLS) if scope == sc.RUNAWAY_SCOPE_RUN
                               else (sc.LOG_SESSION_COST, sc.LOG_SESSION_CALLS))
        attrs = [kv(sc.GENAI_RUNAWAY_THRESHOLD, string_value=threshold),
                 kv(sc.GENAI_RUNAWAY_SCOPE, string_value=scope),
                 kv(sc.LOG_RUNAWAY_LIMIT, double_value=float(limit)),
                 kv(cost_key, double_value=cost),
                 kv(calls_key, int_value=calls)]
        if run.agent:
            attrs.append(kv(sc.GENAI_AGENT_NAME, string_value=run.agent))
        if run.session:
            attrs.append(kv(sc.GENAI_CONVERSATION_ID, string_value=run.session))
        when = span.end_time_unix_nano or span.start_time_unix_nano
        record = logs_pb2.LogRecord(
            time_unix_nano=when, observed_time_unix_nano=when,
            severity_number=logs_pb2.SEVERITY_NUMBER_WARN, severity_text="WARN",
            body=common_pb2.AnyValue(string_value=(
                f"runaway {scope}: {threshold} limit {limit:g} crossed "
                f"(cost={cost:.6f} USD, calls={calls}, "
                f"agent={run.agent or '-'})")),
            attributes=attrs, trace_id=span.trace_id, event_name=sc.EVENT_RUNAWAY)
        resource = resource_pb2.Resource(attributes=[
            kv(sc.SERVICE_NAME, string_value=run.service or "unknown_service")])
        out = logs_pb2.ResourceLogs(resource=resource)
        sl = out.scope_logs.add()
        sl.scope.CopyFrom(self._scope)
        sl.log_records.append(record)
        return out

    def _expire(self, now: float, out: list[genai.Entry], everything: bool) -> None:
        held = self._held
        while held:
            key, h = next(iter(held.items()))
            if h.deadline > now and not everything:
                break
            del held[key]
            self._held_bytes -= h.size
            self._released_c.inc()
            out.append(h.entry)
            self._unpend(key[0])
        children = self._children
        horizon = now - self._window
        while children:
            key, seen = next(iter(children.items()))
            if seen > horizon:
                break
            del children[key]

    def _remember(self, key: tuple[bytes, bytes], now: float) -> None:
        children = self._children
        children[key] = now
        children.move_to_end(key)
        while len(children) > self.config.max_remembered:
            children.popitem(last=False)

    def _hold(self, key: tuple[bytes, bytes], e: genai.Entry, deadline: float,
              out: list[genai.Entry]) -> None:
        span = trace_pb2.Span()
        span.CopyFrom(e.span)
        resource = resource_pb2.Resource()
        resource.CopyFrom(e.resource)
        scope = common_pb2.InstrumentationScope()
        scope.CopyFrom(e.scope)
        size = span.ByteSize() + resource.ByteSize()
        self._held[key] = _Held(genai.Entry(resource, scope, span, e.call), deadline, size)
        self._held_bytes += size
        self._held_c.inc()
        held = self._held
        while len(held) > self.config.max_pending or self._held_bytes > self._max_bytes:
            old, h = held.popitem(last=False)
            self._held_bytes -= h.size
            self._overflow_c.inc()
            out.append(h.entry)
            self._unpend(old[0])
