"""Test harness: real processes (collector, sidecar) and a recording OTLP/gRPC server.

Everything binds free ports on 127.0.0.1. Readiness and arrival are awaited on conditions
(a log line, a health endpoint answering, a count reached) with a deadline, never by sleeping a
fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from sidecar.component import REQUEST_TYPES, RESPONSE_TYPES, Signal, count_items

ROOT = Path(__file__).resolve().parent.parent
SIDECAR_BIN = Path(sys.executable).with_name("genai-sidecar")

SERVICES = {
    Signal.TRACES: "opentelemetry.proto.collector.trace.v1.TraceService",
    Signal.LOGS: "opentelemetry.proto.collector.logs.v1.LogsService",
    Signal.METRICS: "opentelemetry.proto.collector.metrics.v1.MetricsService",
}


_HANDED_OUT: set[int] = set()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port free on 127.0.0.1 now, never handed out before in this process.

    Drawn below the kernel's ephemeral range: a port from ``bind(0)`` lies inside that range,
    where any process's next outgoing connection may take it before our server binds it
    (seen as "address already in use" on a busy machine). Ports below the range are only
    ever taken by explicit binds.
    """
    rng = random.Random()
    high = min(_ephemeral_low(), 65536)
    for _ in range(1000):
        port = rng.randrange(max(1024, high - 12000), high)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port found below the ephemeral range")


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
                     poll: float = 0.02) -> None:
    """Poll ``predicate`` until true; fail with ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(poll)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def kv(key: str, value: Any) -> common_pb2.KeyValue:
    if isinstance(value, bool):
        v = common_pb2.AnyValue(bool_value=value)
    elif isinstance(value, int):
        v = common_pb2.AnyValue(int_value=value)
    elif isinstance(value, float):
        v = common_pb2.AnyValue(double_value=value)
    else:
        v = common_pb2.AnyValue(string_value=str(value))
    return common_pb2.KeyValue(key=key, value=v)


def _resource(service: str) -> resource_pb2.Resource:
    return resource_pb2.Resource(attributes=[kv("service.name", service)])


def make_traces(batch: int, spans: int, content_bytes: int = 1024,
                service: str = "chat-api") -> trace_service_pb2.ExportTraceServiceRequest:
    """A request of ``spans`` chat spans with unique ids derived from ``batch``.

    Span ids are ``batch`` and the index + 1 packed in 8 bytes, so a test can tell which ones
    arrived.
    """
    text = ("Summarize the quarterly report for the board. " * (content_bytes // 46 + 1))
    text = text[:content_bytes]
    out = []
    for i in range(spans):
        sid = batch.to_bytes(4, "big") + (i + 1).to_bytes(4, "big")  # never all-zero (invalid)
        out.append(trace_pb2.Span(
            trace_id=(batch + 1).to_bytes(16, "big"),
            span_id=sid,
            name="chat gpt-4o",
            kind=trace_pb2.Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=1_700_000_000_000_000_000 + i,
            end_time_unix_nano=1_700_000_001_000_000_000 + i,
            attributes=[
                kv("gen_ai.operation.name", "chat"),
                kv("gen_ai.provider.name", "openai"),
                kv("gen_ai.request.model", "gpt-4o"),
                kv("gen_ai.usage.input_tokens", 1200 + i),
                kv("gen_ai.usage.output_tokens", 300),
                kv("gen_ai.input.messages",
                   '[{"role":"user","parts":[{"type":"text","content":"' + text + '"}]}]'),
            ],
        ))
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[
        trace_pb2.ResourceSpans(resource=_resource(service), scope_spans=[
            trace_pb2.ScopeSpans(scope=common_pb2.InstrumentationScope(name="test"), spans=out)
        ])
    ])


def make_logs(batch: int, records: int) -> logs_service_pb2.ExportLogsServiceRequest:
    out = [
        logs_pb2.LogRecord(
            time_unix_nano=1_700_000_000_000_000_000 + i,
            body=common_pb2.AnyValue(string_value=f"log {batch}-{i}"),
            attributes=[kv("batch", batch), kv("index", i)],
        )
        for i in range(records)
    ]
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[
        logs_pb2.ResourceLogs(resource=_resource("chat-api"), scope_logs=[
            logs_pb2.ScopeLogs(log_records=out)
        ])
    ])


def make_metrics(batch: int, points: int) -> metrics_service_pb2.ExportMetricsServiceRequest:
    dps = [
        metrics_pb2.NumberDataPoint(
            as_int=i, time_unix_nano=1_700_000_000_000_000_000,
            attributes=[kv("batch", batch), kv("index", i)],
        )
        for i in range(points)
    ]
    metric = metrics_pb2.Metric(name=f"test.gauge.{batch}", unit="1",
                                gauge=metrics_pb2.Gauge(data_points=dps))
    return metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[
        metrics_pb2.ResourceMetrics(resource=_resource("chat-api"), scope_metrics=[
            metrics_pb2.ScopeMetrics(metrics=[metric])
        ])
    ])


def span_ids(requests: list[Any]) -> list[bytes]:
    return [s.span_id for r in requests for rs in r.resource_spans for ss in rs.scope_spans
            for s in ss.spans]


def log_keys(requests: list[Any]) -> list[str]:
    return [rec.body.string_value for r in requests for rl in r.resource_logs
            for sl in rl.scope_logs for rec in sl.log_records]


def point_keys(requests: list[Any]) -> list[tuple[str, int]]:
    return [(m.name, dp.as_int) for r in requests for rm in r.resource_metrics
            for sm in rm.scope_metrics for m in sm.metrics for dp in m.gauge.data_points]


# --------------------------------------------------------------------------------------------
# A recording OTLP/gRPC server (the "far end")
# --------------------------------------------------------------------------------------------
class Sink:
    """An OTLP/gRPC server that records what it accepts; it can be told to refuse.

    ``fail_with`` set to a status code makes every Export fail with it (``retry_after``
    adds RetryInfo). ``hold`` set to an event holds calls (from call number ``hold_from`` on)
    until it is set. Not thread-safe: use from the test's event loop.
    """

    def __init__(self, port: int | None = None,
                 tls: grpc.ServerCredentials | None = None) -> None:
        self.port = port or free_port()
        self.tls = tls
        self.received: dict[Signal, list[Any]] = {s: [] for s in Signal}
        self.calls = 0
        self.metadata: list[dict[str, str]] = []
        self.fail_with: grpc.StatusCode | None = None
        self.fail_times: int | None = None
        self.retry_after: float | None = None
        self.hold: asyncio.Event | None = None
        self.hold_from = 1
        self._server: grpc.aio.Server | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def items(self, signal: Signal) -> int:
        return sum(count_items(signal, r) for r in self.received[signal])

    async def start(self) -> Sink:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 128 << 20),
                                          ("grpc.so_reuseport", 0)])
        for sig, name in SERVICES.items():
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, {
                "Export": grpc.unary_unary_rpc_method_handler(
                    self._handler(sig),
                    request_deserializer=REQUEST_TYPES[sig].FromString,
                    response_serializer=lambda m: m.SerializeToString(),
                )}),))
        if self.tls is not None:
            server.add_secure_port(self.endpoint, self.tls)
        else:
            server.add_insecure_port(self.endpoint)
        await server.start()
        self._server = server
        return self

    def _handler(self, signal: Signal):
        async def export(request: Any, context: grpc.aio.ServicerContext) -> Any:
            from sidecar.server import retry_info_metadata

            self.calls += 1
            self.metadata.append({k: v for k, v in context.invocation_metadata() or ()})
            if self.hold is not None and self.calls >= self.hold_from:
                await self.hold.wait()
            if self.fail_with is not None and (self.fail_times is None or self.fail_times > 0):
                if self.fail_times is not None:
                    self.fail_times -= 1
                md = (retry_info_metadata(self.fail_with, "sink says no", self.retry_after)
                      if self.retry_after is not None else ())
                await context.abort(self.fail_with, "sink says no", md)
            self.received[signal].append(request)
            return RESPONSE_TYPES[signal]()

        return export

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop(None)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------
class Process:
    """A child process whose output is kept in a log file, with readiness checks."""

    def __init__(self, name: str, argv: list[str], log_dir: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_dir / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self._log = None

    async def start(self) -> Process:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in wait/stop
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdout=self._log, stderr=self._log, env=self.env,
            start_new_session=True,
        )
        return self

    def output(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait_for_output(self, needle: str, timeout: float = 60) -> None:
        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited early:\n{self.output()[-4000:]}")
            return needle in self.output()
        await wait_until(ready, timeout, f"{self.name} to print {needle!r}")

    async def wait_for_http(self, url: str, timeout: float = 60) -> None:
        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited early:\n{self.output()[-4000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    return resp.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False
        await wait_until(ready, timeout, f"{self.name} at {url}", poll=0.05)

    async def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    async def wait(self, timeout: float = 60) -> int:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        finally:
            if self._log and self.proc.returncode is not None:
                self._log.close()

    async def stop(self, timeout: float = 30) -> None:
        """SIGTERM, then SIGKILL if it does not exit in ``timeout``. Idempotent."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        if self._log:
            self._log.close()

    async def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            await self.proc.wait()


def collector_bin() -> str:
    """The collector binary from OTELCOL_BIN (the Makefile builds and passes it)."""
    path = os.environ.get("OTELCOL_BIN")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError(
            "OTELCOL_BIN is not set to the collector binary; run the tests with `make test` "
            "(it builds the collector of collector-config/builder.yaml)"
        )
    return path


class Collector(Process):
    """The real collector with tests/integration/collector.yaml on free ports."""

    def __init__(self, log_dir: Path, sidecar_endpoint: str, sink_endpoint: str,
                 config: Path | None = None) -> None:
        self.otlp_port = free_port()
        self.enriched_port = free_port()
        self.health_port = free_port()
        env = {
            "COLLECTOR_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{self.otlp_port}",
            "COLLECTOR_ENRICHED_ENDPOINT": f"127.0.0.1:{self.enriched_port}",
            "COLLECTOR_HEALTH_ENDPOINT": f"127.0.0.1:{self.health_port}",
            "COLLECTOR_STORAGE_DIR": str(log_dir / "queue"),
            "SIDECAR_ENDPOINT": sidecar_endpoint,
            "SINK_ENDPOINT": sink_endpoint,
        }
        cfg = config or ROOT / "tests" / "integration" / "collector.yaml"
        super().__init__("collector", [collector_bin(), "--config", str(cfg)], log_dir, env)

    async def ready(self) -> Collector:
        await self.wait_for_http(f"http://127.0.0.1:{self.health_port}/")
        return self


class SidecarProcess(Process):
    """``genai-sidecar run`` as a child process."""

    def __init__(self, log_dir: Path, port: int, downstream: str, config: Path | None = None,
                 name: str = "sidecar") -> None:
        self.port = port
        argv = [str(SIDECAR_BIN), "run", "--listen", f"127.0.0.1:{port}",
                "--downstream", downstream]
        if config is not None:
            argv[2:2] = ["--config", str(config)]
        super().__init__(name, argv, log_dir)

    async def ready(self, timeout: float = 120) -> SidecarProcess:
        await self.wait_for_output("listening on port", timeout)
        return self


async def export(endpoint: str, signal: Signal, request: Any, timeout: float = 10) -> Any:
    """One OTLP Export call; returns the response or raises grpc.aio.AioRpcError."""
    async with grpc.aio.insecure_channel(endpoint) as channel:
        call = channel.unary_unary(
            f"/{SERVICES[signal]}/Export",
            request_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString(),
            response_deserializer=RESPONSE_TYPES[signal].FromString,
        )
        return await call(request, timeout=timeout)
