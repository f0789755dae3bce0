"""OTLP/gRPC exporter to the downstream collector receiver.

Sends already-serialized export requests (the pipeline owns encoding) and retries the codes the
OTLP specification calls retryable, with jittered exponential backoff, always inside the
deadline of the request being served: the sidecar keeps no buffer, so when time runs out the
failure goes back to the client, whose own queue retries (shared/DESIGN.md section 4).

Threading contract: every coroutine runs on the event loop that called `start`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from sidecar.component import RESPONSE_TYPES, Signal
from sidecar.config import Compression, ExporterConfig
from sidecar.telemetry import Telemetry

log = logging.getLogger(__name__)

_METHODS = {
    Signal.TRACES: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    Signal.LOGS: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    Signal.METRICS: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}

#: Retryable per the OTLP specification. RESOURCE_EXHAUSTED only when the server says when
#: (RetryInfo), as the collector's own exporter does.
RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)

#: An attempt with less time than this left is not started.
_MIN_ATTEMPT = 0.005


class ExportError(Exception):
    """The downstream did not accept an export.

    Attributes:
        code: the gRPC status to answer the client with.
        message: a content-free description.
        retryable: whether the client should retry.
        retry_after: seconds the downstream asked to wait (RetryInfo), if any.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        retryable: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


def _retry_info(err: grpc.aio.AioRpcError) -> float | None:
    """The RetryInfo delay in a status's details, if the server sent one."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    detail.Unpack(info)
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


class OtlpExporter:
    """Exports serialized OTLP requests to one downstream endpoint."""

    def __init__(self, config: ExporterConfig, telemetry: Telemetry) -> None:
        self._config = config
        self._telemetry = telemetry
        self._channel: grpc.aio.Channel | None = None
        self._calls: dict[Signal, Any] = {}
        self._closing = asyncio.Event()
        self._metadata = tuple((k.lower(), v) for k, v in config.headers.items()) or None
        self._compression = (
            grpc.Compression.Gzip if config.compression is Compression.GZIP else None
        )
        self._rng = random.Random()

    @property
    def timeout(self) -> float:
        """Deadline of one export attempt, in seconds."""
        return self._config.timeout

    async def start(self) -> None:
        """Open the channel (connection is lazy: a down downstream does not stop start-up)."""
        if self._channel is not None:
            return
        cfg = self._config
        options = [
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            # Retries are ours, bounded by the caller's deadline; gRPC's own would double them.
            ("grpc.enable_retries", 0),
            ("grpc.keepalive_time_ms", 30_000),
        ]
        if cfg.tls.enabled:
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read(cfg.tls.ca_file),
                private_key=_read(cfg.tls.key_file),
                certificate_chain=_read(cfg.tls.cert_file),
            )
            if cfg.tls.server_name_override:
                options.append(("grpc.ssl_target_name_override", cfg.tls.server_name_override))
            self._channel = grpc.aio.secure_channel(cfg.endpoint, creds, options=options)
        else:
            self._channel = grpc.aio.insecure_channel(cfg.endpoint, options=options)
        for signal, method in _METHODS.items():
            self._calls[signal] = self._channel.unary_unary(
                method,
                request_serializer=None,  # bytes: the pipeline serialized already
                response_deserializer=RESPONSE_TYPES[signal].FromString,
            )

    async def export(self, signal: Signal, payload: bytes, deadline: float) -> Any:
        """Send one serialized request; return the downstream's response message.

        Args:
            signal: which OTLP service to call.
            payload: the serialized export request.
            deadline: ``loop.time()`` by which the caller must have an answer.

        Raises:
            ExportError: the downstream did not accept the data before the deadline, or
                refused it permanently, or the exporter is shutting down.
        """
        if self._channel is None:
            raise ExportError(grpc.StatusCode.UNAVAILABLE, "exporter not started", True)
        loop = asyncio.get_running_loop()
        retry = self._config.retry
        call = self._calls[signal]
        delay = retry.initial_interval
        attempt = 0
        last: ExportError | None = None  # the downstream's latest refusal
        while True:
            remaining = deadline - loop.time()
            if remaining < _MIN_ATTEMPT:
                # A backoff that ended late (a busy event loop) leaves no time for another
                # attempt: the client still learns what the downstream last said.
                raise self._out_of_time(last, attempt)
            attempt += 1
            timeout = min(self._config.timeout, remaining)
            clipped = timeout < self._config.timeout  # the caller's deadline ends this attempt
            try:
                response = await call(
                    payload,
                    timeout=timeout,
                    metadata=self._metadata,
                    compression=self._compression,
                    wait_for_ready=False,
                )
            except grpc.aio.AioRpcError as err:
                code = err.code()
                self._telemetry.export_attempts.labels(signal.value, code.name).inc()
                if code is grpc.StatusCode.DEADLINE_EXCEEDED and clipped and last is not None:
                    # Cut short by the caller's deadline, not answered: the earlier refusal
                    # is the news.
                    raise self._out_of_time(last, attempt) from None
                retry_after = _retry_info(err)
                retryable = code in RETRYABLE_CODES or (
                    code is grpc.StatusCode.RESOURCE_EXHAUSTED and retry_after is not None
                )
                last = ExportError(
                    code if code is not grpc.StatusCode.DEADLINE_EXCEEDED
                    else grpc.StatusCode.UNAVAILABLE,
                    f"downstream {self._config.endpoint} answered {code.name}: "
                    f"{err.details() or ''}".rstrip(": "),
                    retryable,
                    retry_after,
                )
                if not retryable or not retry.enabled or self._closing.is_set():
                    raise last from None
                wait = retry_after if retry_after is not None else self._jitter(delay)
                if loop.time() + wait + _MIN_ATTEMPT >= deadline:
                    raise self._out_of_time(last, attempt) from None
                delay = min(delay * retry.multiplier, retry.max_interval)
                if await self._wait_closing(wait):
                    raise last from None
                continue
            self._telemetry.export_attempts.labels(signal.value, "OK").inc()
            return response

    def _out_of_time(self, last: ExportError | None, attempts: int) -> ExportError:
        """The error for a caller's deadline that leaves no time for another attempt."""
        if last is None:
            return ExportError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"no time left to export to {self._config.endpoint}",
                True,
            )
        return ExportError(
            last.code,
            f"{last.message} (gave up after {attempts} attempt{'s' if attempts != 1 else ''}:"
            " no time left before the caller's deadline)",
            last.retryable,
            last.retry_after,
        )

    def _jitter(self, delay: float) -> float:
        f = self._config.retry.randomization_factor
        return delay * self._rng.uniform(1 - f, 1 + f)

    async def _wait_closing(self, seconds: float) -> bool:
        """Back off for ``seconds``; True if shutdown began meanwhile (stop retrying)."""
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop retrying and close the channel after in-flight calls. Idempotent."""
        self._closing.set()
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close(grace)


def _read(path: Any) -> bytes | None:
    return None if path is None else path.read_bytes()
