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

    async def process(self, batch: Any, ctx: BatchContext) -> Any:
        now = self._clock()
        out: list[genai.Entry] = []
        self._expire(now, out, everything=ctx.final)
        window = self._window
        for e in genai.batch_view(batch, ctx.scratch, ctx.scopes):
            call, span = e.call, e.span
            if call.convention is _SDK and span.parent_span_id and window > 0:
                key = (span.trace_id, span.parent_span_id)
                held = self._held.pop(key, None)
                if held is not None:  # its parent came first: the parent does not count
                    self._held_bytes -= held.size
                    self._dropped_c.inc()
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
                        self._hold(key, e, now + window, out)
                    continue
            out.append(e)
        genai.publish_counted(ctx.scratch, out)
        ctx.untouched()  # derives only
        return batch

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
            _, h = held.popitem(last=False)
            self._held_bytes -= h.size
            self._overflow_c.inc()
            out.append(h.entry)
