"""Cheap pass-through: the wire prefilter (sidecar/wire.py, the processors' ``interest``) and
forwarding the received bytes when no stage changed anything.

The differential tests are the safety net: every golden input of every processor, alone and
mixed with ordinary spans in other scopes, gives the same output through the default chain with
the prefilter as without it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from processors import cost, logs, metrics, redaction
from processors.genai import routing
from processors.redaction.engine import Analyzer, EngineSpec
from sidecar import otlpjson
from sidecar.component import BatchContext, Processor, Signal
from sidecar.pipeline import Pipeline
from sidecar.telemetry import Telemetry
from sidecar.wire import WireFilter
from tests.harness import kv, make_logs
from tests.unit.test_pipeline import RecordingExporter

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = sorted(ROOT.glob("processors/*/testdata/golden*/*.input.json"))


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(EngineSpec.from_config(redaction.RedactionConfig(mode="patterns")))


def _chain(analyzer, redaction_settings=None):
    red = redaction.create(redaction.RedactionConfig.model_validate(redaction_settings or {}),
                           analyzer=analyzer)
    return [("cost", cost.create(cost.default_config())), ("redaction", red),
            ("genai_metrics", metrics.create(metrics.default_config())),
            ("inference_logs", logs.create(logs.default_config()))]


def _handle(chain, signal, payload, prefilter: bool):
    exp = RecordingExporter()
    names = [(n, p) for n, p in chain if signal in p.signals]
    pipe = Pipeline({signal: names}, exp, Telemetry("test"))
    if not prefilter:
        pipe._filters = {s: None for s in Signal}
    asyncio.run(pipe.handle(signal, payload, deadline=1e12))
    return exp.sent


def _plain_spans(n: int, start: int = 1000) -> list[trace_pb2.Span]:
    return [trace_pb2.Span(trace_id=b"\x01" * 16, span_id=(start + i).to_bytes(8, "big"),
                           name="GET /items", attributes=[
                               kv("http.request.method", "GET"), kv("url.path", f"/items/{i}"),
                               kv("server.address", "api.openai.com"),
                               kv("http.response.status_code", 200)])
            for i in range(n)]


def _canonical(sent):
    out = []
    for signal, payload in sent:
        msg = {Signal.TRACES: trace_service_pb2.ExportTraceServiceRequest}.get(signal)
        if msg is None:
            out.append((signal, payload))
        else:
            out.append((signal, otlpjson.dumps(msg.FromString(payload))))
    return out


def _signal_of(path: Path) -> Signal:
    return Signal.LOGS if "resourceLogs" in path.read_text("utf-8") else Signal.TRACES


def _mixed(path: Path) -> bytes:
    """The golden request, then a resource with plain spans, plus a plain scope inside each of
    the golden resources."""
    req = otlpjson.from_dict(Signal.TRACES, json.loads(path.read_text("utf-8")))
    for rs in req.resource_spans:
        rs.scope_spans.add().spans.extend(_plain_spans(3))
    extra = req.resource_spans.add()
    extra.resource.attributes.append(kv("service.name", "web"))
    extra.scope_spans.add().spans.extend(_plain_spans(5, 2000))
    return req.SerializeToString()


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: f"{p.parts[-4]}/{p.name}")
def test_prefilter_changes_no_output(analyzer, path):
    signal = _signal_of(path)
    payload = otlpjson.loads(signal, path.read_text("utf-8")).SerializeToString()
    cases = [payload] + ([_mixed(path)] if signal is Signal.TRACES else [])
    for data in cases:
        with_filter = _canonical(_handle(_chain(analyzer), signal, data, prefilter=True))
        without = _canonical(_handle(_chain(analyzer), signal, data, prefilter=False))
        assert with_filter == without


def test_a_request_with_nothing_genai_is_forwarded_as_received_without_running_the_chain():
    calls: list[str] = []

    class Probe(Processor):
        interest = routing.WIRE

        async def process(self, batch, ctx):
            calls.append("probe")
            return batch

    req = trace_service_pb2.ExportTraceServiceRequest()
    req.resource_spans.add().scope_spans.add().spans.extend(_plain_spans(50))
    payload = _reordered(req)
    exp = RecordingExporter()
    asyncio.run(Pipeline({Signal.TRACES: [("p", Probe())]}, exp, Telemetry("t")).handle(
        Signal.TRACES, payload, deadline=1e12))
    assert exp.sent == [(Signal.TRACES, payload)] and calls == []


def test_plain_application_logs_pass_the_default_redaction_untouched(analyzer):
    payload = make_logs(1, 20).SerializeToString()
    chain = [("redaction", redaction.create(redaction.RedactionConfig(), analyzer=analyzer))]
    assert _handle(chain, Signal.LOGS, payload, prefilter=True) == [(Signal.LOGS, payload)]


def _reordered(req) -> bytes:
    """``req`` serialized with each span's fields in reverse order: valid protobuf that a
    re-encode would change, so a forwarded copy shows whether it was re-encoded."""
    out = trace_service_pb2.ExportTraceServiceRequest()
    out.CopyFrom(req)
    for rs in out.resource_spans:
        for ss in rs.scope_spans:
            del ss.spans[:]
    blob = b""
    for rs in req.resource_spans:
        rs_bytes = b""
        for ss in rs.scope_spans:
            spans = b""
            for span in ss.spans:
                parts = [trace_pb2.Span(attributes=[a]).SerializeToString()
                         for a in span.attributes]
                parts += [trace_pb2.Span(**{f.name: v}).SerializeToString()
                          for f, v in reversed(span.ListFields()) if f.name != "attributes"]
                body = b"".join(parts)
                spans += b"\x12" + _varint(len(body)) + body
            scope = ss.scope.SerializeToString()
            ss_body = (b"\x0a" + _varint(len(scope)) + scope if scope else b"") + spans
            rs_bytes += b"\x12" + _varint(len(ss_body)) + ss_body
        blob += b"\x0a" + _varint(len(rs_bytes)) + rs_bytes
    assert trace_service_pb2.ExportTraceServiceRequest.FromString(blob) == req
    assert blob != req.SerializeToString()
    return blob


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


class _Scopes(Processor):
    """Records the scopes it is handed; optionally reports itself untouched."""

    interest = routing.WIRE

    def __init__(self, untouched: bool) -> None:
        self.seen: list[list[str]] = []
        self._untouched = untouched

    async def process(self, batch, ctx: BatchContext):
        self.seen.append([ss.scope.name for _rs, ss in ctx.containers(batch)])
        if self._untouched:
            ctx.untouched()
        return batch


def _two_scopes() -> trace_service_pb2.ExportTraceServiceRequest:
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    web = rs.scope_spans.add()
    web.scope.name = "opentelemetry.instrumentation.fastapi"
    web.spans.extend(_plain_spans(10))
    llm = rs.scope_spans.add()
    llm.scope.name = "opentelemetry.instrumentation.openai_v2"
    llm.spans.add(trace_id=b"\x01" * 16, span_id=b"\x00" * 7 + b"\x01", name="chat gpt-4o",
                  attributes=[kv("gen_ai.operation.name", "chat")])
    other = req.resource_spans.add()
    other.scope_spans.add().spans.extend(_plain_spans(4, 500))
    return req


@pytest.mark.parametrize("untouched", [True, False])
def test_the_chain_sees_only_the_scopes_with_genai_telemetry(untouched):
    req = _two_scopes()
    payload = _reordered(req)
    probe = _Scopes(untouched)
    exp = RecordingExporter()
    asyncio.run(Pipeline({Signal.TRACES: [("s", probe)]}, exp, Telemetry("t")).handle(
        Signal.TRACES, payload, deadline=1e12))
    assert probe.seen == [["opentelemetry.instrumentation.openai_v2"]]
    (sent,) = exp.sent
    # Untouched by every stage: the received bytes; else the re-encoded request, same content.
    assert (sent[1] == payload) is untouched
    assert trace_service_pb2.ExportTraceServiceRequest.FromString(sent[1]) == req


def test_a_stage_without_interest_sees_everything():
    class Any_(Processor):
        seen: list[int] = []

        async def process(self, batch, ctx):
            self.seen.append(sum(1 for _ in ctx.containers(batch)))
            return batch

    probe = Any_()
    payload = _two_scopes().SerializeToString()
    asyncio.run(Pipeline({Signal.TRACES: [("s", _Scopes(True)), ("a", probe)]},
                         RecordingExporter(), Telemetry("t")).handle(
        Signal.TRACES, payload, deadline=1e12))
    assert probe.seen == [3]


@pytest.mark.parametrize("hyperscan", [True, False])
def test_wire_filter_answers_as_the_regex_does(hyperscan):
    wf = WireFilter([routing.WIRE, routing.wire_pattern(keys=("my.prompt",))])
    if not hyperscan:
        wf._db = None
    samples = [
        kv("gen_ai.system", "openai").SerializeToString(),
        kv("http.method", "GET").SerializeToString(),
        kv("x", "gen_ai.choice").SerializeToString(),
        kv("my.prompt", "hello").SerializeToString(),
        kv("k" * 200 + "x", "v").SerializeToString(),
        kv("llm." + "k" * 200, "v").SerializeToString(),
        b'{"schemaType":"ModelInvocationLog"}',
        b"mail.example.ai. gen_ai. without a tag",
        b"",
    ]
    expect = [True, False, True, True, False, True, True, False, False]
    assert [wf.search(s) for s in samples] == expect


def test_wire_scopes_of_a_malformed_payload_is_none():
    wf = WireFilter([routing.WIRE])
    good = _two_scopes().SerializeToString()
    assert wf.scopes(good) == ([(0, 1)], 3)
    assert wf.scopes(good[:-3]) is None
    assert wf.scopes(b"\x0f\x01") is None
