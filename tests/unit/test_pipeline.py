"""Pipeline and pure helpers, without any network (the exporter is an in-memory recorder)."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from sidecar import otlpjson
from sidecar.component import RESPONSE_TYPES, BatchContext, Processor, Signal, count_items
from sidecar.exporter import ExportError
from sidecar.pipeline import Pipeline, ProcessingError, RequestError
from sidecar.telemetry import Telemetry
from tests.harness import make_logs, make_metrics, make_traces


class RecordingExporter:
    """Stands in for OtlpExporter: records payloads, or raises a given ExportError."""

    timeout = 1.0

    def __init__(self, error: ExportError | None = None, rejected: int = 0) -> None:
        self.sent: list[tuple[Signal, bytes]] = []
        self.error = error
        self.rejected = rejected

    async def export(self, signal, payload, deadline):
        if self.error:
            raise self.error
        self.sent.append((signal, payload))
        response = RESPONSE_TYPES[signal]()
        if self.rejected:
            response.partial_success.rejected_spans = self.rejected
            response.partial_success.error_message = "downstream refused some"
        return response


class Rename(Processor):
    signals = frozenset({Signal.TRACES})

    def __init__(self, suffix: str, calls: list[str]) -> None:
        self.suffix, self.calls = suffix, calls

    async def process(self, batch, ctx: BatchContext):
        self.calls.append(self.suffix)
        for rs in batch.resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    s.name += self.suffix
        return batch


def pipeline(exporter, processors=None, chain=()):
    chains = {Signal.TRACES: [(n, processors[n]) for n in chain]}
    return Pipeline(chains, exporter, Telemetry("test"))


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize(
    ("signal", "request_", "n"),
    [
        pytest.param(Signal.TRACES, make_traces(1, 7), 7, id="spans"),
        pytest.param(Signal.LOGS, make_logs(1, 5), 5, id="log-records"),
        pytest.param(Signal.METRICS, make_metrics(1, 3), 3, id="data-points"),
    ],
)
def test_count_items(signal, request_, n):
    assert count_items(signal, request_) == n


def test_empty_chain_forwards_the_received_bytes():
    exp = RecordingExporter()
    payload = make_traces(1, 3).SerializeToString()
    run(pipeline(exp).handle(Signal.TRACES, payload, deadline=1e12))
    assert exp.sent == [(Signal.TRACES, payload)]


def test_processors_run_in_chain_order():
    calls: list[str] = []
    procs = {"a": Rename("-a", calls), "b": Rename("-b", calls)}
    exp = RecordingExporter()
    run(pipeline(exp, procs, ("b", "a")).handle(
        Signal.TRACES, make_traces(1, 2).SerializeToString(), 1e12))
    assert calls == ["-b", "-a"]
    out = otlpjson.to_dict(type(make_traces(1, 1)).FromString(exp.sent[0][1]))
    assert {s["name"] for s in out["resourceSpans"][0]["scopeSpans"][0]["spans"]} == {
        "chat gpt-4o-b-a"}


def test_undecodable_payload_is_a_request_error():
    with pytest.raises(RequestError, match="not a valid OTLP logs message"):
        run(pipeline(RecordingExporter()).handle(Signal.LOGS, b"\x0a\xff", 1e12))


def test_processor_exception_becomes_processing_error_and_nothing_is_sent():
    class Boom(Processor):
        async def process(self, batch, ctx):
            raise KeyError("secret content")

    exp = RecordingExporter()
    with pytest.raises(ProcessingError, match=r"processor 'boom' failed \(KeyError\)"):
        run(pipeline(exp, {"boom": Boom()}, ("boom",)).handle(
            Signal.TRACES, make_traces(1, 1).SerializeToString(), 1e12))
    assert exp.sent == []


def test_export_error_propagates_and_is_counted():
    err = ExportError(grpc.StatusCode.UNAVAILABLE, "down", True)
    p = pipeline(RecordingExporter(error=err))
    with pytest.raises(ExportError):
        run(p.handle(Signal.TRACES, make_traces(1, 4).SerializeToString(), 1e12))
    failed = p._telemetry.failed_items.labels("traces", "downstream_unavailable")
    assert failed._value.get() == 4


def test_downstream_partial_success_is_returned_and_counted():
    p = pipeline(RecordingExporter(rejected=2))
    response = run(p.handle(Signal.TRACES, make_traces(1, 5).SerializeToString(), 1e12))
    assert response.partial_success.rejected_spans == 2
    assert p._telemetry.exported_items.labels("traces")._value.get() == 3


def test_otlpjson_roundtrip_uses_hex_ids():
    request = make_traces(3, 1)
    data = otlpjson.to_dict(request)
    span = data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    assert span["spanId"] == "0000000300000001"
    assert otlpjson.from_dict(Signal.TRACES, data) == request


def _len(tag: int, body: bytes) -> bytes:
    n, head = len(body), bytearray([tag])
    while n >= 0x80:
        head.append((n & 0x7F) | 0x80)
        n >>= 7
    head.append(n)
    return bytes(head) + body


def _nested_value(depth: int) -> bytes:
    """An AnyValue holding ``depth`` nested array values, as bytes (the Python protobuf
    runtime cannot build it: its decoder stops at 100 levels, the Go collector does not)."""
    value = _len(0x0A, b"leaf")  # AnyValue.string_value
    for _ in range(depth):
        value = _len(0x2A, _len(0x0A, value))  # AnyValue.array_value{values: [value]}
    return value


def _deep_request(good: int, depth: int) -> bytes:
    from opentelemetry.proto.trace.v1 import trace_pb2

    spans = [_len(0x12, trace_pb2.Span(name=f"ok-{i}", span_id=bytes([0] * 7 + [i % 256]),
                                        trace_id=b"\x01" * 16).SerializeToString())
             for i in range(good)]
    bad = _len(0x12, trace_pb2.Span(name="deep", trace_id=b"\x01" * 16,
                                   span_id=b"\x02" * 8).SerializeToString()
               + _len(0x4A, _len(0x0A, b"payload") + _len(0x12, _nested_value(depth))))
    half = len(spans) // 2
    scope = _len(0x12, b"".join(spans[:half]) + bad + b"".join(spans[half:]))
    return _len(0x0A, scope)


@pytest.mark.parametrize("depth", [30, 47, 48, 60, 1000])
def test_a_span_nested_past_the_decoder_limit_loses_only_itself(depth):
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts

    payload = _deep_request(200, depth)
    exp = RecordingExporter()
    try:
        ts.ExportTraceServiceRequest.FromString(payload)
        decodes = True
    except Exception:
        decodes = False
    response = run(pipeline(exp).handle(Signal.TRACES, payload, deadline=1e12))
    (sent,) = exp.sent
    names = [s.name for rs in ts.ExportTraceServiceRequest.FromString(sent[1]).resource_spans
             for ss in rs.scope_spans for s in ss.spans]
    if decodes:
        assert len(names) == 201 and sent[1] == payload
        assert not response.HasField("partial_success")
    else:
        assert names == [f"ok-{i}" for i in range(200)]
        assert response.partial_success.rejected_spans == 1
        assert "not decodable" in response.partial_success.error_message


def test_a_request_of_only_undecodable_items_is_the_clients_error():
    payload = _deep_request(0, 80)
    with pytest.raises(RequestError, match="not a valid OTLP traces message"):
        run(pipeline(RecordingExporter()).handle(Signal.TRACES, payload, deadline=1e12))


def test_garbage_is_still_the_clients_error():
    with pytest.raises(RequestError):
        run(pipeline(RecordingExporter()).handle(Signal.TRACES, b"\x0a\xff\xff\xff\x0fxx",
                                                 deadline=1e12))
