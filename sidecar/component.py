"""The contract between the pipeline and the processors.

A processor is built once by its factory (``create(config)``), started once with a `Host`,
asked to ``process`` batches, and shut down once. It transforms the OTLP request message it is
given (in place or by returning another) and hands any derived data (metrics, log records) back
to the pipeline through the `BatchContext`; it never exports, never calls the next stage and
never logs per item. Counting, timing, ordering and failure policy belong to the pipeline.

Threading contract: ``start``, ``process`` and ``shutdown`` are called on the event loop thread.
``process`` may await (for work it sends to worker processes) but must not block the loop for
long; a processor that needs threads or processes owns them and stops them in ``shutdown``.
``shutdown`` must be safe to call without ``start`` and more than once.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

if TYPE_CHECKING:
    from sidecar.telemetry import Telemetry


class Signal(enum.StrEnum):
    """The three OTLP signals."""

    TRACES = "traces"
    LOGS = "logs"
    METRICS = "metrics"


REQUEST_TYPES: dict[Signal, type] = {
    Signal.TRACES: trace_service_pb2.ExportTraceServiceRequest,
    Signal.LOGS: logs_service_pb2.ExportLogsServiceRequest,
    Signal.METRICS: metrics_service_pb2.ExportMetricsServiceRequest,
}
RESPONSE_TYPES: dict[Signal, type] = {
    Signal.TRACES: trace_service_pb2.ExportTraceServiceResponse,
    Signal.LOGS: logs_service_pb2.ExportLogsServiceResponse,
    Signal.METRICS: metrics_service_pb2.ExportMetricsServiceResponse,
}


def count_items(signal: Signal, request: Any) -> int:
    """Number of spans, log records or metric data points in an OTLP export request."""
    n = 0
    if signal is Signal.TRACES:
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                n += len(ss.spans)
    elif signal is Signal.LOGS:
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                n += len(sl.log_records)
    else:
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    if kind is not None:
                        n += len(getattr(m, kind).data_points)
    return n


@dataclass(slots=True)
class BatchContext:
    """What one processor run may hand back to the pipeline besides the batch itself.

    Attributes:
        signal: the signal of the batch being processed.
        derived_logs: log records derived from the batch (e.g. one per LLM call); the pipeline
            exports them on the logs path alongside the batch.
        derived_metrics: metrics derived from the batch, exported on the metrics path.
        rejected: items the processor refused (they are removed from the batch by the processor);
            reported to the client as OTLP ``partial_success``.
        rejection_reasons: short, content-free reasons for ``rejected``.
        scratch: per-request memo shared by the processors of one chain (e.g. the normalized
            GenAI view of a span, computed once and read by cost, metrics and logs).
        scopes: the (resource, scope) containers of the request that can hold something for
            the chain (the pipeline's wire prefilter, `Processor.interest`); None: all. Walk
            the request with `containers`, never past it.
        untouched_stages: stages that reported (`untouched`) leaving the request exactly as
            it was; when every stage of the chain did, the pipeline forwards the received
            bytes instead of re-encoding.
    """

    signal: Signal
    derived_logs: list[logs_pb2.ResourceLogs] = field(default_factory=list)
    derived_metrics: list[metrics_pb2.ResourceMetrics] = field(default_factory=list)
    rejected: int = 0
    rejection_reasons: list[str] = field(default_factory=list)
    scratch: dict[Any, Any] = field(default_factory=dict)
    scopes: list[tuple[Any, Any]] | None = None
    untouched_stages: int = 0
    #: ``loop.time()`` by which the request's answer is due (its gRPC deadline); None: none.
    deadline: float | None = None
    #: A tick (`Processor.tick_interval`): the pipeline runs the chain on an empty request so
    #: that stages holding state release what is due; ``final`` on the last one, at shutdown
    #: (release everything).
    tick: bool = False
    final: bool = False

    def containers(self, request: Any) -> Iterator[tuple[Any, Any]]:
        """The request's (resource, scope) containers a processor must look at: ``(rs, ss)``
        of traces, ``(rl, sl)`` of logs, ``(rm, sm)`` of metrics."""
        if self.scopes is not None:
            yield from self.scopes
            return
        if self.signal is Signal.TRACES:
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    yield rs, ss
        elif self.signal is Signal.LOGS:
            for rl in request.resource_logs:
                for sl in rl.scope_logs:
                    yield rl, sl
        else:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    yield rm, sm

    def untouched(self) -> None:
        """Report that this stage left the request byte for byte as it was."""
        self.untouched_stages += 1

    def reject(self, count: int, reason: str) -> None:
        """Record that ``count`` items were dropped from the batch, for ``partial_success``."""
        self.rejected += count
        if reason not in self.rejection_reasons:
            self.rejection_reasons.append(reason)


class Host(Protocol):
    """What the pipeline offers a started processor."""

    loop: asyncio.AbstractEventLoop
    #: The sidecar's own metrics; a processor registers its counters on ``telemetry.registry``
    #: (in ``start``) so they appear on ``/metrics`` beside the runtime's.
    telemetry: Telemetry

    async def export_derived(self, signal: Signal, request: Any) -> None:
        """Export derived data (an OTLP export request) downstream, outside any batch.

        For processors that emit on their own schedule (periodic metric readers). Raises
        `sidecar.exporter.ExportError` when the downstream did not accept it.
        """
        ...


class Processor(abc.ABC):
    """One step of a signal's chain. See the module docstring for the contract."""

    #: The signals this processor accepts; the config check rejects it in other pipelines.
    signals: frozenset[Signal] = frozenset(Signal)
    #: What it acts on, as a regular expression over serialized OTLP: a request or scope
    #: whose bytes do not match holds nothing for it (the pipeline then skips it, or forwards
    #: the request as received). None: anything may (no prefilter for its chain).
    interest: re.Pattern[bytes] | None = None
    #: Seconds between ticks: a processor that holds contributions across requests (e.g. until
    #: a pairing window closes) sets it, and the pipeline then runs its chain every that often
    #: on an empty request (`BatchContext.tick`), and once more at shutdown (``final``), so
    #: what it releases flows to the later stages and is exported like any derived data.
    tick_interval: float | None = None

    async def start(self, host: Host) -> None:  # noqa: B027 - optional hook
        """Start background work, if any. Called once before the first batch."""

    @abc.abstractmethod
    async def process(self, batch: Any, ctx: BatchContext) -> Any:
        """Transform one OTLP export request of ``ctx.signal`` and return it."""

    async def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources. Idempotent; safe without ``start``."""


@dataclass(frozen=True, slots=True)
class Factory:
    """How to configure and build one processor type."""

    type: str
    signals: frozenset[Signal]
    config_type: type[Any]
    default_config: Callable[[], Any]
    create: Callable[[Any], Processor]
    #: Types that must run before this one in any pipeline that holds them.
    after: frozenset[str] = frozenset()

    @classmethod
    def of(cls, package: ModuleType) -> Factory:
        """The factory a processor package exposes."""
        return cls(
            type=package.TYPE,
            signals=frozenset(package.SIGNALS),
            config_type=type(package.default_config()),
            default_config=package.default_config,
            create=package.create,
            after=frozenset(getattr(package, "AFTER", ())),
        )
