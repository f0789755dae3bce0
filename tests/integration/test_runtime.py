"""The runtime in-process (port 0) against a recording downstream: the reliability contract."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import urllib.request
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.logs.v1 import logs_pb2

from sidecar.app import Sidecar
from sidecar.component import BatchContext, Processor, Signal
from sidecar.config import StrictModel
from sidecar.exporter import ExportError, OtlpExporter
from sidecar.registry import Factory, build_config
from sidecar.telemetry import Telemetry
from tests.harness import (
    Sink,
    export,
    make_logs,
    make_metrics,
    make_traces,
    span_ids,
    wait_until,
)


def config(downstream: str, **server: Any):
    return build_config(
        {
            "server": {"listen": "127.0.0.1:0", "drain_timeout": "10s", **server},
            "exporter": {"endpoint": downstream, "timeout": "2s",
                         "retry": {"initial_interval": "10ms", "max_interval": "50ms"}},
            "telemetry": {"metrics_listen": "127.0.0.1:0"},
        },
        "test",
        {},
    )


@pytest.fixture
async def sink():
    s = await Sink().start()
    yield s
    await s.stop()


@pytest.fixture
async def sidecar(sink):
    app = Sidecar(config(sink.endpoint))
    await app.start()
    yield app
    await app.stop()


def endpoint(app: Sidecar) -> str:
    return f"127.0.0.1:{app.port}"


def retry_delay(err: grpc.aio.AioRpcError) -> float | None:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.RetryInfo()
                if detail.Unpack(info):
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


@pytest.mark.parametrize(
    ("signal", "request_"),
    [
        pytest.param(Signal.TRACES, make_traces(1, 64), id="traces"),
        pytest.param(Signal.LOGS, make_logs(1, 64), id="logs"),
        pytest.param(Signal.METRICS, make_metrics(1, 64), id="metrics"),
    ],
)
async def test_empty_chain_forwards_every_signal_byte_identical(sink, sidecar, signal, request_):
    response = await export(endpoint(sidecar), signal, request_)
    assert not response.HasField("partial_success")
    assert len(sink.received[signal]) == 1
    assert sink.received[signal][0].SerializeToString() == request_.SerializeToString()


async def test_gzip_compressed_requests_are_accepted(sink, sidecar):
    request = make_traces(2, 16)
    async with grpc.aio.insecure_channel(endpoint(sidecar)) as ch:
        call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                              request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=lambda b: b)
        await call(request, timeout=5, compression=grpc.Compression.Gzip)
    assert span_ids(sink.received[Signal.TRACES]) == span_ids([request])


async def test_malformed_request_is_invalid_argument_and_server_keeps_serving(sink, sidecar):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await export(endpoint(sidecar), Signal.TRACES, b"\xff\xff\xff not protobuf")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid OTLP traces message" in info.value.details()
    assert sink.calls == 0
    await export(endpoint(sidecar), Signal.TRACES, make_traces(3, 4))
    assert len(sink.received[Signal.TRACES]) == 1


async def test_oversized_request_is_refused_and_server_keeps_serving(sink):
    app = Sidecar(config(sink.endpoint, max_recv_msg_size_mib=1))
    await app.start()
    try:
        big = make_traces(4, 2, content_bytes=700_000)  # ~1.4 MB > 1 MiB
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(endpoint(app), Signal.TRACES, big)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert retry_delay(info.value) is None  # not retryable: the same request stays too big
        await export(endpoint(app), Signal.TRACES, make_traces(5, 4))
        assert sink.items(Signal.TRACES) == 4
    finally:
        await app.stop()


async def test_downstream_down_is_unavailable_then_recovers():
    sink = Sink()  # port reserved, not started: the downstream is down
    app = Sidecar(config(sink.endpoint))
    await app.start()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(endpoint(app), Signal.TRACES, make_traces(6, 4), timeout=1)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        await sink.start()
        await export(endpoint(app), Signal.TRACES, make_traces(6, 4), timeout=10)
        assert sink.items(Signal.TRACES) == 4
    finally:
        await app.stop()
        await sink.stop()


async def test_too_many_in_flight_is_resource_exhausted_with_retry_info(sink):
    app = Sidecar(config(sink.endpoint, max_in_flight_requests=1, retry_after="1500ms"))
    await app.start()
    sink.hold = asyncio.Event()
    try:
        first = asyncio.ensure_future(export(endpoint(app), Signal.TRACES, make_traces(7, 2)))
        # The first request is now held at the downstream.
        await wait_until(lambda: sink.calls > 0, 10, "the first request at the downstream")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(endpoint(app), Signal.TRACES, make_traces(8, 2))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert retry_delay(info.value) == 1.5
        sink.hold.set()
        await first
        assert span_ids(sink.received[Signal.TRACES]) == span_ids([make_traces(7, 2)])
    finally:
        sink.hold.set()
        await app.stop()


async def test_too_many_bytes_in_flight_is_resource_exhausted_and_the_sidecar_keeps_serving(
        sink):
    """A large request held at the downstream fills server.max_in_flight_mib: the next large
    one is refused retryably (counted, after decompression: it is sent gzip-compressed and
    small on the wire); a small one still fits; once the first is done, large ones pass."""
    app = Sidecar(config(sink.endpoint, max_in_flight_mib=1, retry_after="500ms"))
    await app.start()
    sink.hold = asyncio.Event()
    big = make_traces(1, 40, content_bytes=20_000)  # ~800 KB, compresses to a few KB
    assert big.ByteSize() > 700_000
    try:
        first = asyncio.ensure_future(export(endpoint(app), Signal.TRACES, big))
        await wait_until(lambda: sink.calls > 0, 10, "the first request at the downstream")
        async with grpc.aio.insecure_channel(endpoint(app),
                                             compression=grpc.Compression.Gzip) as ch:
            call = ch.unary_unary(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=lambda b: b)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call(make_traces(2, 40, content_bytes=20_000), timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "bytes in flight" in info.value.details() and retry_delay(info.value) == 0.5
        assert app.telemetry.refused_bytes.labels("traces")._value.get() > 700_000
        sink.hold_from = 10**9  # the small one is not held
        await export(endpoint(app), Signal.TRACES, make_traces(3, 2))
        sink.hold.set()
        await first
        await export(endpoint(app), Signal.TRACES, make_traces(4, 40, content_bytes=20_000))
        assert sink.items(Signal.TRACES) == 40 + 2 + 40
    finally:
        sink.hold.set()
        await app.stop()


@pytest.mark.parametrize(
    ("downstream_code", "expected"),
    [
        pytest.param(grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INVALID_ARGUMENT,
                     id="permanent-passed-through"),
        pytest.param(grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE,
                     id="transient-unavailable"),
        pytest.param(grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE,
                     id="downstream-timeout-becomes-unavailable"),
    ],
)
async def test_downstream_refusal_maps_to_client_status(sink, sidecar, downstream_code, expected):
    sink.fail_with = downstream_code
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await export(endpoint(sidecar), Signal.LOGS, make_logs(9, 3), timeout=1)
    assert info.value.code() == expected
    assert "sink says no" in info.value.details()


async def test_transient_downstream_failures_are_retried_within_the_deadline(sink, sidecar):
    sink.fail_with, sink.fail_times = grpc.StatusCode.UNAVAILABLE, 3
    await export(endpoint(sidecar), Signal.TRACES, make_traces(10, 5), timeout=10)
    assert sink.calls == 4
    assert sink.items(Signal.TRACES) == 5


async def test_downstream_resource_exhausted_with_retry_info_is_retried(sink, sidecar):
    sink.fail_with, sink.fail_times, sink.retry_after = grpc.StatusCode.RESOURCE_EXHAUSTED, 1, 0.01
    await export(endpoint(sidecar), Signal.TRACES, make_traces(11, 5), timeout=10)
    assert sink.calls == 2


async def expect_last_refusal(exporter: OtlpExporter, deadline: float, attempts: str) -> None:
    """The export fails with the sink's refusal and how many attempts were made."""
    with pytest.raises(ExportError) as info:
        await exporter.export(Signal.TRACES, make_traces(12, 1).SerializeToString(), deadline)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert "answered UNAVAILABLE: sink says no" in info.value.message
    assert attempts in info.value.message


async def test_backoff_that_wakes_after_the_deadline_reports_the_downstreams_refusal(sink):
    """A busy event loop can end a backoff late, past the caller's deadline: the client must
    still learn what the downstream said, not only that time ran out."""
    sink.fail_with = grpc.StatusCode.UNAVAILABLE
    exporter = OtlpExporter(config(sink.endpoint).exporter, Telemetry("test"))
    await exporter.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2

    async def late_backoff(seconds: float) -> bool:
        await asyncio.sleep(deadline - loop.time() + 0.01)  # the timer fires past the deadline
        return False

    exporter._wait_closing = late_backoff  # type: ignore[method-assign]
    try:
        await expect_last_refusal(exporter, deadline, "gave up after 1 attempt:")
        assert sink.calls == 1
        with pytest.raises(ExportError) as info:  # nothing was tried: nothing else to say
            await exporter.export(Signal.TRACES, b"", loop.time())
        assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert info.value.message == f"no time left to export to {sink.endpoint}"
    finally:
        await exporter.shutdown()


async def test_attempt_cut_short_by_the_deadline_reports_the_earlier_refusal(sink):
    """The last attempt, cut short by the caller's deadline, says nothing about the downstream:
    the refusal before it does."""
    sink.fail_with, sink.fail_times = grpc.StatusCode.UNAVAILABLE, 1
    sink.hold, sink.hold_from = asyncio.Event(), 2  # the second attempt never gets an answer
    exporter = OtlpExporter(config(sink.endpoint).exporter, Telemetry("test"))  # 2s attempts
    await exporter.start()
    try:
        deadline = asyncio.get_running_loop().time() + 1
        await expect_last_refusal(exporter, deadline, "gave up after 2 attempts:")
        assert sink.calls == 2
    finally:
        sink.hold.set()
        await exporter.shutdown()


async def test_exporter_tls_with_custom_ca_headers_and_gzip(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=downstream.test", "-addext", "subjectAltName=DNS:downstream.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    creds = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    sink = await Sink(tls=creds).start()
    cfg = build_config({
        "server": {"listen": "127.0.0.1:0"},
        "exporter": {"endpoint": sink.endpoint, "timeout": "5s",
                     "headers": {"Authorization": "Bearer t0ken"}, "compression": "gzip",
                     "tls": {"enabled": True, "ca_file": str(cert),
                             "server_name_override": "downstream.test"}},
        "telemetry": {"metrics_listen": None},
    }, "test", {})
    app = Sidecar(cfg)
    await app.start()
    try:
        await export(endpoint(app), Signal.TRACES, make_traces(15, 2))
        assert sink.items(Signal.TRACES) == 2
        assert sink.metadata[0]["authorization"] == "Bearer t0ken"
    finally:
        await app.stop()
        await sink.stop()


async def test_health_serving_then_not_serving_on_drain(sink):
    app = Sidecar(config(sink.endpoint))
    await app.start()
    async with grpc.aio.insecure_channel(endpoint(app)) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for service in ("", "opentelemetry.proto.collector.trace.v1.TraceService"):
            resp = await stub.Check(health_pb2.HealthCheckRequest(service=service))
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.ensure_future(app.stop())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        await stopping


async def test_shutdown_drains_in_flight_requests_and_refuses_new_ones(sink):
    app = Sidecar(config(sink.endpoint))
    await app.start()
    sink.hold = asyncio.Event()
    first = asyncio.ensure_future(export(endpoint(app), Signal.TRACES, make_traces(12, 3)))
    await wait_until(lambda: sink.calls > 0, 10, "the request at the downstream")
    stopping = asyncio.ensure_future(app.stop())
    await wait_until(lambda: app.receiver._stopped, 10, "stop() to begin")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await export(endpoint(app), Signal.TRACES, make_traces(13, 3), timeout=2)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    sink.hold.set()
    await first  # the in-flight request completed OK during the drain
    await stopping
    assert span_ids(sink.received[Signal.TRACES]) == span_ids([make_traces(12, 3)])
    await app.stop()  # idempotent


async def test_own_metrics_count_items_by_signal(sink, sidecar):
    await export(endpoint(sidecar), Signal.TRACES, make_traces(14, 7))
    sink.fail_with = grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError):
        await export(endpoint(sidecar), Signal.LOGS, make_logs(14, 5))
    url = f"http://127.0.0.1:{sidecar.metrics_port}/metrics"
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
    text = (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode()
    assert 'genai_sidecar_received_items_total{signal="traces"} 7.0' in text
    assert 'genai_sidecar_exported_items_total{signal="traces"} 7.0' in text
    assert 'genai_sidecar_received_items_total{signal="logs"} 5.0' in text
    assert 'genai_sidecar_failed_items_total{reason="downstream_refused",signal="logs"} 5.0' in text
    assert 'genai_sidecar_requests_total{code="INVALID_ARGUMENT",signal="logs"} 1.0' in text


# --------------------------------------------------------------------------------------------
# Processor-facing contract, with test processors registered for the duration of a test
# --------------------------------------------------------------------------------------------
class _NoConfig(StrictModel):
    mode: str = "ok"


class _TestProcessor(Processor):
    signals = frozenset({Signal.TRACES})

    def __init__(self, cfg: _NoConfig) -> None:
        self.mode = cfg.mode
        self.started = self.stopped = 0

    async def start(self, host):
        self.started += 1

    async def process(self, batch, ctx: BatchContext):
        if self.mode == "raise":
            raise ValueError("boom with content that must not be logged")
        spans = batch.resource_spans[0].scope_spans[0].spans
        if self.mode == "drop-first":
            del spans[0]
            ctx.reject(1, "one span refused by test")
        if self.mode == "derive":
            ctx.derived_logs.append(logs_pb2.ResourceLogs(scope_logs=[logs_pb2.ScopeLogs(
                log_records=[logs_pb2.LogRecord(span_id=s.span_id) for s in spans])]))
        for s in spans:
            s.name = "processed"
        return batch

    async def shutdown(self):
        self.stopped += 1


_TEST_FACTORY = Factory(
    type="testproc",
    signals=frozenset({Signal.TRACES}),
    config_type=_NoConfig,
    default_config=_NoConfig,
    create=_TestProcessor,
)


@pytest.fixture
def with_testproc(monkeypatch):
    from sidecar import registry

    monkeypatch.setitem(registry.FACTORIES, "testproc", _TEST_FACTORY)


async def _with_processor(sink, mode: str) -> Sidecar:
    cfg = build_config({
        "server": {"listen": "127.0.0.1:0"},
        "exporter": {"endpoint": sink.endpoint, "timeout": "2s"},
        "telemetry": {"metrics_listen": None},
        "processors": {"testproc": {"mode": mode}},
        "pipelines": {"traces": ["testproc"]},
    }, "test", {})
    app = Sidecar(cfg)
    await app.start()
    return app


async def test_processed_batch_is_reencoded_and_forwarded(sink, with_testproc):
    app = await _with_processor(sink, "ok")
    try:
        await export(endpoint(app), Signal.TRACES, make_traces(20, 3))
        spans = sink.received[Signal.TRACES][0].resource_spans[0].scope_spans[0].spans
        assert [s.name for s in spans] == ["processed"] * 3
    finally:
        await app.stop()


async def test_processor_failure_is_internal_and_nothing_is_forwarded(sink, with_testproc):
    app = await _with_processor(sink, "raise")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(endpoint(app), Signal.TRACES, make_traces(21, 3))
        assert info.value.code() == grpc.StatusCode.INTERNAL
        assert "processor 'testproc' failed (ValueError)" in info.value.details()
        assert "boom" not in info.value.details()
        assert sink.calls == 0
    finally:
        await app.stop()


async def test_processor_rejections_become_partial_success(sink, with_testproc):
    app = await _with_processor(sink, "drop-first")
    try:
        response = await export(endpoint(app), Signal.TRACES, make_traces(22, 3))
        assert response.partial_success.rejected_spans == 1
        assert response.partial_success.error_message == "one span refused by test"
        assert sink.items(Signal.TRACES) == 2
    finally:
        await app.stop()


async def test_derived_logs_are_exported_with_the_batch(sink, with_testproc):
    app = await _with_processor(sink, "derive")
    try:
        request = make_traces(23, 4)
        await export(endpoint(app), Signal.TRACES, request)
        derived = sink.received[Signal.LOGS]
        assert [r.span_id for r in derived[0].resource_logs[0].scope_logs[0].log_records] == \
            span_ids([request])
    finally:
        await app.stop()


async def test_processor_lifecycle_start_once_and_idempotent_shutdown(sink, with_testproc):
    app = await _with_processor(sink, "ok")
    proc = app.pipeline._processors["testproc"]
    await app.start()
    await app.stop()
    await app.stop()
    assert (proc.started, proc.stopped) == (1, 1)


async def test_drain_deadline_bounds_shutdown_even_if_downstream_hangs(sink):
    app = Sidecar(config(sink.endpoint, drain_timeout="200ms"))
    await app.start()
    sink.hold = asyncio.Event()  # never released: the downstream hangs
    stuck = asyncio.ensure_future(export(endpoint(app), Signal.TRACES, make_traces(16, 2),
                                         timeout=30))
    await wait_until(lambda: sink.calls > 0, 10, "the request at the downstream")
    await asyncio.wait_for(app.stop(), 15)  # would hang without the drain deadline
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stuck
    assert info.value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
    sink.hold.set()


async def test_processor_counters_are_served_on_the_sidecars_metrics_endpoint(sink):
    cfg = build_config({
        "server": {"listen": "127.0.0.1:0"},
        "exporter": {"endpoint": sink.endpoint, "timeout": "2s"},
        "telemetry": {"metrics_listen": "127.0.0.1:0"},
        "processors": {"cost": {}},
        "pipelines": {"traces": ["cost"]},
    }, "test", {})
    app = Sidecar(cfg)
    await app.start()
    try:
        await export(endpoint(app), Signal.TRACES, make_traces(24, 3))
        url = f"http://127.0.0.1:{app.metrics_port}/metrics"
        text = (await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
                ).decode()
        assert 'genai_sidecar_cost_spans_total{status="priced"} 3.0' in text
        assert 'genai_sidecar_processor_items_total{processor="cost",signal="traces"} 3.0' in text
    finally:
        await app.stop()
