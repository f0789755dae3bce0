"""Runs the processor chain of each signal: decode, process, encode, export, count.

The pipeline alone forwards. Processors transform; this module owns ordering, per-stage timing,
item counts, derived-data export and the failure policy of shared/DESIGN.md section 4:

* a request that does not decode is the client's error (`RequestError`, INVALID_ARGUMENT);
* a processor that raises fails the request (INTERNAL): forwarding data a processor could not
  handle might let raw PII through, and retrying the same input would fail again;
* the downstream's answer decides the rest (`sidecar.exporter.ExportError`).

With an empty chain the received bytes are forwarded untouched (byte-identical pass-through),
and so are they when the chain's wire prefilter (`sidecar.wire`, from the processors'
``interest``) finds nothing for it in the request, or when every stage reports it left the
request as it was (`BatchContext.untouched`). Otherwise the chain sees only the scopes the
prefilter kept (`BatchContext.scopes`), and the processed request is re-encoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from sidecar.component import (
    REQUEST_TYPES,
    RESPONSE_TYPES,
    BatchContext,
    Processor,
    Signal,
    count_items,
)
from sidecar.config import SidecarConfig
from sidecar.exporter import ExportError, OtlpExporter
from sidecar.telemetry import Telemetry
from sidecar.wire import WireFilter, salvage

log = logging.getLogger(__name__)


class RequestError(Exception):
    """The client's request is unusable (answered INVALID_ARGUMENT, never retried)."""


class ProcessingError(Exception):
    """A processor failed on a batch (answered INTERNAL)."""


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    processor: Processor


def build_processors(config: SidecarConfig) -> dict[str, Processor]:
    """Create every processor a pipeline uses, once each (shared across signals).

    Raises whatever a factory raises for a resource it cannot load (a missing NLP model, an
    unreadable price file): start-up must fail on it.
    """
    used = {name for chain in config.pipelines.values() for name in chain}
    return {
        name: spec.factory.create(spec.config)
        for name, spec in config.processors.items()
        if name in used
    }


class Pipeline:
    """Per-signal processor chains in front of one exporter."""

    @classmethod
    def from_config(
        cls, config: SidecarConfig, exporter: OtlpExporter, telemetry: Telemetry
    ) -> Pipeline:
        """Build every configured processor (see `build_processors`) and chain them."""
        procs = build_processors(config)
        chains = {s: [(n, procs[n]) for n in chain] for s, chain in config.pipelines.items()}
        return cls(chains, exporter, telemetry)

    def __init__(
        self,
        chains: Mapping[Signal, Sequence[tuple[str, Processor]]],
        exporter: OtlpExporter,
        telemetry: Telemetry,
    ) -> None:
        """Chains of named processors per signal (a missing signal passes through)."""
        self._exporter = exporter
        self._telemetry = telemetry
        self.telemetry = telemetry  # `Host` API
        self._chains: dict[Signal, tuple[Stage, ...]] = {
            signal: tuple(Stage(n, p) for n, p in chains.get(signal, ())) for signal in Signal
        }
        # A chain whose every stage declares what it acts on gets a prefilter.
        self._filters: dict[Signal, WireFilter | None] = {
            signal: (WireFilter([st.processor.interest for st in chain])
                     if chain and all(st.processor.interest is not None for st in chain)
                     else None)
            for signal, chain in self._chains.items()
        }
        # Each processor once, though it may serve several signals (e.g. redaction).
        self._processors: dict[str, Processor] = {
            st.name: st.processor for chain in self._chains.values() for st in chain
        }
        self._started = False
        self._stopped = False
        self._ticks: list[asyncio.Task[None]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        t = telemetry
        self._received = {s: t.received_items.labels(s.value) for s in Signal}
        self._exported = {s: t.exported_items.labels(s.value) for s in Signal}
        self._stage_time = {
            (s, st.name): t.processor_duration.labels(s.value, st.name)
            for s, chain in self._chains.items()
            for st in chain
        }
        self._stage_items = {
            (s, st.name): t.processor_items.labels(s.value, st.name)
            for s, chain in self._chains.items()
            for st in chain
        }

    async def start(self) -> None:
        """Start every processor once, handing it this pipeline as its `Host`."""
        if self._started:
            return
        self._started = True
        self.loop = asyncio.get_running_loop()
        for proc in self._processors.values():
            await proc.start(self)
        for signal, interval in self._tick_intervals().items():
            self._ticks.append(self.loop.create_task(self._tick_loop(signal, interval)))

    def _tick_intervals(self) -> dict[Signal, float]:
        out: dict[Signal, float] = {}
        for signal, chain in self._chains.items():
            wanted = [st.processor.tick_interval for st in chain
                      if st.processor.tick_interval is not None]
            if wanted:
                out[signal] = min(wanted)
        return out

    async def _tick_loop(self, signal: Signal, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.tick(signal)

    async def tick(self, signal: Signal, final: bool = False) -> None:
        """Run ``signal``'s chain on an empty request (`BatchContext.tick`) and export what it
        derived. A failure is logged and counted, never raised: a tick has no client."""
        chain = self._chains[signal]
        ctx = BatchContext(signal, tick=True, final=final)
        try:
            await self._run_chain(signal, chain, REQUEST_TYPES[signal](), ctx, 0)
        except ProcessingError:
            return  # logged by _run_chain
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._exporter.timeout
        for s, request in self._derived_requests(ctx):
            try:
                await self._export_derived_batch(s, request, deadline)
            except ExportError:
                log.warning("derived data of a tick not exported", extra={"signal": s.value})

    async def shutdown(self) -> None:
        """Shut processors down (they flush derived data through `export_derived`). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for task in self._ticks:
            task.cancel()
        for task in self._ticks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._started:
            for signal in self._tick_intervals():
                await self.tick(signal, final=True)  # release what stages still hold
        for name, proc in self._processors.items():
            try:
                await proc.shutdown()
            except Exception:
                log.exception("processor shutdown failed", extra={"processor": name})

    async def handle(self, signal: Signal, payload: bytes, deadline: float) -> Any:
        """Process and forward one serialized export request; return the response to send.

        Args:
            signal: the service the request arrived on.
            payload: the request exactly as received.
            deadline: ``loop.time()`` by which the answer is due.

        Raises:
            RequestError: the payload is not a valid OTLP request of that signal.
            ProcessingError: a processor raised.
            ExportError: the downstream did not accept the data.
        """
        salvaged = 0
        try:
            request = REQUEST_TYPES[signal].FromString(payload)
        except DecodeError as exc:
            # One item the decoder refuses (a value nested past its depth limit) must not
            # take its neighbours with it: keep what decodes, report the rest.
            found = salvage(signal.value, payload)
            if found is None or (found[1] and not count_items(signal, found[0])):
                raise RequestError(
                    f"request is not a valid OTLP {signal.value} message: {exc}"
                ) from None
            request, salvaged = found
            payload = request.SerializeToString()
        items = count_items(signal, request)
        self._received[signal].inc(items + salvaged)
        chain = self._chains[signal]
        ctx = BatchContext(signal, deadline=deadline)
        if salvaged:
            self._telemetry.failed_items.labels(signal.value, "undecodable").inc(salvaged)
            ctx.reject(salvaged, f"{salvaged} item(s) not decodable (e.g. values nested past "
                                 f"the protobuf depth limit); the rest delivered")
        wire = self._filters[signal]
        if chain and wire is not None:
            matched, ctx.scopes = _kept_scopes(signal, request, wire, payload)
            if not matched:
                chain = ()  # nothing in it for any stage: forwarded as received
        if chain:
            received = request
            request = await self._run_chain(signal, chain, request, ctx, items)
            if request is not received or ctx.untouched_stages < len(chain):
                payload = request.SerializeToString()
            items_out = count_items(signal, request) if ctx.rejected else items
        else:
            items_out = items

        derived = self._derived_requests(ctx)
        if derived:
            # Derived data shares the batch's fate: a failure is counted, the batch's own
            # delivery decides the answer (a retried batch derives its records again).
            results = await asyncio.gather(
                self._export_primary(signal, payload, items_out, deadline),
                *(self._export_derived_batch(s, r, deadline) for s, r in derived),
                return_exceptions=True,
            )
            response = results[0]
            if isinstance(response, BaseException):
                raise response
        else:
            response = await self._export_primary(signal, payload, items_out, deadline)

        if ctx.rejected:
            response = self._merge_rejections(signal, response, ctx)
        return response

    async def _run_chain(
        self, signal: Signal, chain: tuple[Stage, ...], request: Any, ctx: BatchContext, items: int
    ) -> Any:
        perf = time.perf_counter
        for stage in chain:
            t0 = perf()
            try:
                request = await stage.processor.process(request, ctx)
            except Exception as exc:
                self._telemetry.failed_items.labels(signal.value, "processor_error").inc(items)
                log.error(
                    "processor failed; batch refused",
                    extra={"processor": stage.name, "signal": signal.value,
                           "exc_type": type(exc).__name__},
                )
                raise ProcessingError(
                    f"processor {stage.name!r} failed ({type(exc).__name__}); batch not forwarded"
                ) from exc
            self._stage_time[signal, stage.name].observe(perf() - t0)
            self._stage_items[signal, stage.name].inc(items)
        return request

    async def _export_primary(self, signal: Signal, payload: bytes, items: int, deadline: float):
        if items == 0:
            return RESPONSE_TYPES[signal]()
        try:
            response = await self._exporter.export(signal, payload, deadline)
        except ExportError as err:
            reason = "downstream_unavailable" if err.retryable else "downstream_refused"
            self._telemetry.failed_items.labels(signal.value, reason).inc(items)
            raise
        rejected = _partial_rejected(signal, response)
        self._exported[signal].inc(items - rejected)
        if rejected:
            self._telemetry.failed_items.labels(signal.value, "downstream_partial").inc(rejected)
        return response

    async def _export_derived_batch(self, signal: Signal, request: Any, deadline: float) -> None:
        n = count_items(signal, request)
        try:
            await self._exporter.export(signal, request.SerializeToString(), deadline)
        except ExportError:
            self._telemetry.derived_items.labels(signal.value, "failed").inc(n)
            raise
        self._telemetry.derived_items.labels(signal.value, "exported").inc(n)

    async def export_derived(self, signal: Signal, request: Any) -> None:
        """`Host` API: export derived data outside a batch, within the exporter's timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._exporter.timeout
        await self._export_derived_batch(signal, request, deadline)

    @staticmethod
    def _derived_requests(ctx: BatchContext) -> list[tuple[Signal, Any]]:
        out: list[tuple[Signal, Any]] = []
        if ctx.derived_logs:
            out.append((Signal.LOGS,
                        logs_service_pb2.ExportLogsServiceRequest(resource_logs=ctx.derived_logs)))
        if ctx.derived_metrics:
            out.append((Signal.METRICS, metrics_service_pb2.ExportMetricsServiceRequest(
                resource_metrics=ctx.derived_metrics)))
        return out

    @staticmethod
    def _merge_rejections(signal: Signal, response: Any, ctx: BatchContext) -> Any:
        merged = RESPONSE_TYPES[signal]()
        merged.CopyFrom(response)
        ps = merged.partial_success
        field = _REJECTED_FIELD[signal]
        setattr(ps, field, getattr(ps, field) + ctx.rejected)
        reasons = "; ".join(ctx.rejection_reasons)
        ps.error_message = f"{ps.error_message}; {reasons}" if ps.error_message else reasons
        return merged


_CONTAINERS = {
    Signal.TRACES: ("resource_spans", "scope_spans"),
    Signal.LOGS: ("resource_logs", "scope_logs"),
    Signal.METRICS: ("resource_metrics", "scope_metrics"),
}


def _kept_scopes(signal: Signal, request: Any, wire: WireFilter,
                 payload: bytes) -> tuple[bool, list[tuple[Any, Any]] | None]:
    """Whether any scope's bytes match ``wire``, and the (resource, scope) containers that do
    (None: all of them). One scan of the bytes either way."""
    outer, inner = _CONTAINERS[signal]
    resources = getattr(request, outer)
    if len(resources) <= 1 and sum(len(getattr(r, inner)) for r in resources) <= 1:
        return wire.search(payload), None
    found = wire.scopes(payload)
    if found is None:  # not the expected outer shape: look at everything
        return wire.search(payload), None
    hits, total = found
    if not hits:
        return False, None
    if len(hits) == total:
        return True, None
    return True, [(resources[r], getattr(resources[r], inner)[s]) for r, s in hits]


_REJECTED_FIELD = {
    Signal.TRACES: "rejected_spans",
    Signal.LOGS: "rejected_log_records",
    Signal.METRICS: "rejected_data_points",
}


def _partial_rejected(signal: Signal, response: Any) -> int:
    if not response.HasField("partial_success"):
        return 0
    return getattr(response.partial_success, _REJECTED_FIELD[signal])


