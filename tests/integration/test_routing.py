"""The shipped routing, run by the real collector: collector-config/stack.yaml with its sidecar,
Jaeger and VictoriaLogs addresses pointed at recording servers of this test.

Each span and log record sent to the collector must arrive exactly once, at the sidecar when it
is GenAI telemetry (processors/genai/routing.py, the definition the configs are rendered from)
and straight at the backend otherwise; application metrics go straight to the Prometheus
exporter. The spans are every span of the processors' golden inputs (each instrumentation we
know) plus ordinary HTTP / DB spans and near misses.
"""

from __future__ import annotations

import gzip
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from processors.genai import routing
from sidecar import otlpjson
from sidecar.component import Signal
from tests.harness import (
    ROOT,
    Process,
    Sink,
    collector_bin,
    export,
    free_port,
    kv,
    make_metrics,
    wait_until,
)

pytestmark = pytest.mark.integration

STACK = ROOT / "collector-config" / "stack.yaml"


class LogsHTTPSink:
    """OTLP/HTTP logs receiver (protobuf, gzip or not), as VictoriaLogs' ingestion path."""

    def __init__(self) -> None:
        self.records: list[logs_pb2.LogRecord] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                req = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
                with sink._lock:
                    for rl in req.resource_logs:
                        for sl in rl.scope_logs:
                            sink.records.extend(sl.log_records)
                out = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def bodies(self) -> list[str]:
        with self._lock:
            return [r.body.string_value for r in self.records]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _golden_spans() -> list[trace_pb2.Span]:
    spans = []
    for path in sorted(ROOT.glob("processors/*/testdata/golden*/*.input.json")):
        data = json.loads(path.read_text("utf-8"))
        if "resourceSpans" not in data:
            continue
        for rs in otlpjson.from_dict(Signal.TRACES, data).resource_spans:
            for ss in rs.scope_spans:
                spans.extend(ss.spans)
    return spans


def _plain_spans() -> list[trace_pb2.Span]:
    cases = [
        {"http.request.method": "GET", "url.path": "/health"},
        {"db.system": "postgresql", "db.statement": "select gen_ai.x from llm.calls"},
        {"messaging.system": "kafka", "note": "ai.prompt in a value, not a key"},
        {"my.input.value": "x", "aigateway.route": "/v1", "gen_aix": "1"},
        {},
    ]
    return [trace_pb2.Span(name=f"plain-{i}", attributes=[kv(k, v) for k, v in c.items()])
            for i, c in enumerate(cases)]


def _logs() -> list[logs_pb2.LogRecord]:
    def rec(body: str = "", **fields) -> logs_pb2.LogRecord:
        attributes = fields.pop("attributes", {})
        lr = logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value=body), **fields)
        lr.attributes.extend(kv(k, v) for k, v in attributes.items())
        return lr
    return [
        rec("genai-1 hi", event_name="gen_ai.user.message"),
        rec("genai-2", attributes={"event.name": "gen_ai.choice"}),
        rec("genai-3", attributes={"gen_ai.system": "openai"}),
        rec('{"schemaType": "ModelInvocationLog", "modelId": "anthropic.claude", "n": "genai-4"}'),
        rec("plain-1 GET /health 200"),
        rec("plain-2 user logged in", attributes={"user.id": "42", "event.name": "login"}),
        rec("plain-3 we read the ModelInvocationLog docs"),
    ]


def _traces_request(spans: list[trace_pb2.Span]):
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", "routing-test"))
    ss = rs.scope_spans.add()
    for i, span in enumerate(spans):
        s = ss.spans.add()
        s.CopyFrom(span)
        s.trace_id = (1).to_bytes(16, "big")
        s.span_id = (i + 1).to_bytes(8, "big")
    return req


async def test_genai_to_the_sidecar_the_rest_to_the_backends_each_once(tmp_path: Path):
    sidecar, jaeger = await Sink().start(), await Sink().start()
    logs_backend = LogsHTTPSink()
    prom, health = free_port(), free_port()
    env = {
        "COLLECTOR_HEALTH_ENDPOINT": f"127.0.0.1:{health}",
        "COLLECTOR_STORAGE_DIR": str(tmp_path / "queue"),
        "COLLECTOR_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
        "COLLECTOR_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{free_port()}",
        "COLLECTOR_ENRICHED_ENDPOINT": f"127.0.0.1:{free_port()}",
        "COLLECTOR_PROMETHEUS_ENDPOINT": f"127.0.0.1:{prom}",
        "SIDECAR_ENDPOINT": sidecar.endpoint,
        "JAEGER_OTLP_GRPC_ENDPOINT": jaeger.endpoint,
        "VICTORIALOGS_HTTP_ENDPOINT": f"127.0.0.1:{logs_backend.port}",
    }
    collector = Process("collector", [collector_bin(), "--config", str(STACK)], tmp_path, env)
    await collector.start()
    try:
        await collector.wait_for_http(f"http://127.0.0.1:{health}/")
        app = env["COLLECTOR_OTLP_GRPC_ENDPOINT"]
        spans = _golden_spans() + _plain_spans()
        request = _traces_request(spans)
        expected = {s.span_id: routing.has_genai_key(s.attributes)
                    for s in request.resource_spans[0].scope_spans[0].spans}
        assert sum(expected.values()) >= 20 and len(expected) - sum(expected.values()) >= 5
        await export(app, Signal.TRACES, request)
        logs = logs_service_pb2.ExportLogsServiceRequest()
        logs.resource_logs.add().scope_logs.add().log_records.extend(_logs())
        await export(app, Signal.LOGS, logs)
        await export(app, Signal.METRICS, make_metrics(1, 3))

        def delivered() -> bool:
            return (sidecar.items(Signal.TRACES) + jaeger.items(Signal.TRACES) >= len(expected)
                    and sidecar.items(Signal.LOGS) + len(logs_backend.records) >= 7)
        await wait_until(delivered, 30, "every span and log record delivered")

        def ids(sink: Sink) -> list[bytes]:
            return [s.span_id for r in sink.received[Signal.TRACES] for rs in r.resource_spans
                    for ss in rs.scope_spans for s in ss.spans]
        at_sidecar, at_jaeger = ids(sidecar), ids(jaeger)
        assert len(at_sidecar) == len(set(at_sidecar)) and len(at_jaeger) == len(set(at_jaeger))
        assert not set(at_sidecar) & set(at_jaeger), "a span was delivered twice"
        assert set(at_sidecar) == {i for i, g in expected.items() if g}
        assert set(at_jaeger) == {i for i, g in expected.items() if not g}

        sidecar_logs = [lr.body.string_value for r in sidecar.received[Signal.LOGS]
                        for rl in r.resource_logs for sl in rl.scope_logs
                        for lr in sl.log_records]
        assert sorted(b.split()[0] if not b.startswith("{") else "genai-4"
                      for b in sidecar_logs) == ["genai-1", "genai-2", "genai-3", "genai-4"]
        assert sorted(b.split()[0] for b in logs_backend.bodies()) == [
            "plain-1", "plain-2", "plain-3"]

        # Application metrics: straight to the Prometheus exporter, never to the sidecar.
        def scraped() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{prom}/metrics", timeout=2) as r:
                    return b"test_gauge_1" in r.read()
            except OSError:
                return False
        await wait_until(scraped, 30, "application metrics on the Prometheus exporter")
        assert sidecar.items(Signal.METRICS) == 0
    finally:
        await collector.stop()
        await sidecar.stop()
        await jaeger.stop()
        logs_backend.stop()
