"""OTLP/gRPC receiver (TraceService, LogsService, MetricsService Export) and gRPC health.

The Export handlers take the request as raw bytes so that a malformed message is answered with
a clear INVALID_ARGUMENT by us rather than a generic deserialization failure, and so that an
empty chain can forward the bytes untouched. They answer only after the downstream accepted
the data (shared/DESIGN.md section 4), refuse load beyond ``max_in_flight_requests`` with
RESOURCE_EXHAUSTED + RetryInfo, and map every failure to a status the collector's exporter
understands (UNAVAILABLE and RESOURCE_EXHAUSTED + RetryInfo are retried, others are not).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from sidecar.component import Signal
from sidecar.config import ServerConfig
from sidecar.exporter import ExportError
from sidecar.pipeline import Pipeline, ProcessingError, RequestError
from sidecar.telemetry import Telemetry

log = logging.getLogger(__name__)

_SERVICES = {
    Signal.TRACES: "opentelemetry.proto.collector.trace.v1.TraceService",
    Signal.LOGS: "opentelemetry.proto.collector.logs.v1.LogsService",
    Signal.METRICS: "opentelemetry.proto.collector.metrics.v1.MetricsService",
}


def retry_info_metadata(code: grpc.StatusCode, message: str, delay: float) -> tuple:
    """Trailing metadata carrying a google.rpc.Status with RetryInfo (what OTLP clients read)."""
    seconds = int(delay)
    info = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=seconds, nanos=int((delay - seconds) * 1e9))
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return (("grpc-status-details-bin", status.SerializeToString()),)


class OtlpReceiver:
    """The gRPC server: OTLP Export for the three signals plus grpc.health.v1."""

    def __init__(self, config: ServerConfig, pipeline: Pipeline, telemetry: Telemetry) -> None:
        self._config = config
        self._pipeline = pipeline
        self._telemetry = telemetry
        self._in_flight = 0
        self._bytes_in_flight = 0
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self._stopped = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.port: int | None = None
        self._requests = {
            (s, c): telemetry.requests.labels(s.value, c.name)
            for s in Signal
            for c in grpc.StatusCode
        }
        self._durations = {s: telemetry.request_duration.labels(s.value) for s in Signal}

    async def start(self) -> int:
        """Bind and start serving; returns the bound port (``listen`` may ask for port 0)."""
        if self._server is not None:
            return self.port or 0
        max_bytes = self._config.max_recv_msg_size_mib * 1024 * 1024
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", max_bytes),
                ("grpc.max_send_message_length", 16 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
        )
        handlers = {
            name: grpc.method_handlers_generic_handler(
                name,
                {
                    "Export": grpc.unary_unary_rpc_method_handler(
                        self._handler(signal),
                        request_deserializer=None,  # raw bytes: we decode (see module doc)
                        response_serializer=lambda m: m.SerializeToString(),
                    )
                },
            )
            for signal, name in _SERVICES.items()
        }
        server.add_generic_rpc_handlers(tuple(handlers.values()))
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        port = server.add_insecure_port(self._config.listen)
        if port == 0:
            raise OSError(f"cannot bind OTLP/gRPC listener {self._config.listen}")
        await server.start()
        self._server = server
        self.port = port
        for name in ("", *_SERVICES.values()):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return port

    def _handler(self, signal: Signal):
        async def export(payload: bytes, context: grpc.aio.ServicerContext) -> Any:
            return await self._export(signal, payload, context)

        return export

    async def _export(self, signal: Signal, payload: bytes, context: grpc.aio.ServicerContext):
        t0 = time.perf_counter()
        if self._stopped:
            self._count(signal, grpc.StatusCode.UNAVAILABLE, t0)
            await context.abort(grpc.StatusCode.UNAVAILABLE, "genai-sidecar is shutting down", ())
        over = None
        if self._in_flight >= self._config.max_in_flight_requests:
            over = f"too many requests in flight (max {self._config.max_in_flight_requests})"
        elif self._in_flight and (self._bytes_in_flight + len(payload)
                                  > self._config.max_in_flight_mib << 20):
            # (counted after decompression: what the request holds in memory here)
            over = (f"too many request bytes in flight (max {self._config.max_in_flight_mib} "
                    "MiB after decompression)")
            self._telemetry.refused_bytes.labels(signal.value).inc(len(payload))
        if over is not None:
            self._count(signal, grpc.StatusCode.RESOURCE_EXHAUSTED, t0)
            msg = f"{over}; retry after {self._config.retry_after:g}s"
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                msg,
                retry_info_metadata(grpc.StatusCode.RESOURCE_EXHAUSTED, msg,
                                    self._config.retry_after),
            )
        self._in_flight += 1
        self._bytes_in_flight += len(payload)
        self._idle.clear()
        self._telemetry.in_flight.inc()
        try:
            loop = asyncio.get_running_loop()
            remaining = context.time_remaining()
            if remaining is None:
                remaining = self._config.default_request_timeout
            # Answer a little before the client gives up, so it hears our status (UNAVAILABLE
            # with the downstream's reason) rather than its own DEADLINE_EXCEEDED.
            deadline = loop.time() + remaining - min(max(remaining * 0.1, 0.02), 1.0)
            try:
                response = await self._pipeline.handle(signal, payload, deadline)
            except RequestError as exc:
                code, msg, md = grpc.StatusCode.INVALID_ARGUMENT, str(exc), ()
            except ProcessingError as exc:
                code, msg, md = grpc.StatusCode.INTERNAL, str(exc), ()
            except ExportError as err:
                code, msg, md = self._status_for(err)
            else:
                self._count(signal, grpc.StatusCode.OK, t0)
                return response
            self._count(signal, code, t0)
            await context.abort(code, msg, md)
        finally:
            self._in_flight -= 1
            self._bytes_in_flight -= len(payload)
            if self._in_flight == 0:
                self._idle.set()
            self._telemetry.in_flight.dec()

    def _status_for(self, err: ExportError) -> tuple[grpc.StatusCode, str, tuple]:
        if err.code is grpc.StatusCode.RESOURCE_EXHAUSTED and err.retryable:
            delay = err.retry_after or self._config.retry_after
            return err.code, err.message, retry_info_metadata(err.code, err.message, delay)
        if err.retryable:
            # Whatever the downstream said, the client should hold the data and retry.
            return grpc.StatusCode.UNAVAILABLE, err.message, ()
        return err.code, err.message, ()

    def _count(self, signal: Signal, code: grpc.StatusCode, t0: float) -> None:
        self._requests[signal, code].inc()
        self._durations[signal].observe(time.perf_counter() - t0)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def stop(self, grace: float) -> None:
        """Report NOT_SERVING, refuse new calls, let in-flight Exports finish within ``grace``.

        New Export calls are answered UNAVAILABLE (the client retries elsewhere or later).
        Only Exports are waited for: long-lived health Watch streams are cancelled, not
        allowed to hold the drain open. Idempotent; safe before `start`.
        """
        if self._stopped or self._server is None:
            self._stopped = True
            return
        self._stopped = True
        await self._health.enter_graceful_shutdown()
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning("drain deadline reached; cancelling in-flight requests",
                        extra={"in_flight": self._in_flight, "grace_s": grace})
        await self._server.stop(0)



