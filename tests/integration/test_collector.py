"""The real collector and the real sidecar process: data flows, and nothing is lost.

    client --OTLP--> collector --> sidecar (process) --> collector --> recording sink

The collector's exporter to the sidecar has a persistent sending queue; the sidecar keeps no
buffer and acknowledges only what its downstream accepted, so killing it or taking its
downstream away must not lose a single item.
"""

from __future__ import annotations

import signal as os_signal
import urllib.request
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from sidecar.component import Signal
from tests.harness import (
    Collector,
    SidecarProcess,
    Sink,
    export,
    free_port,
    log_keys,
    make_logs,
    make_metrics,
    make_traces,
    point_keys,
    span_ids,
    wait_until,
)

pytestmark = pytest.mark.integration

PASSTHROUGH = Path(__file__).with_name("passthrough.yaml")


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return ""


def spans_by_id(requests) -> dict[bytes, trace_pb2.Span]:
    """Spans by id, with an empty status cleared (the collector writes one when it is unset)."""
    out = {}
    for r in requests:
        for rs in r.resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    span = trace_pb2.Span()
                    span.CopyFrom(s)
                    if span.status == trace_pb2.Status():
                        span.ClearField("status")
                    out[span.span_id] = span
    return out


@pytest.fixture
async def sink():
    s = await Sink().start()
    yield s
    await s.stop()


async def test_traces_logs_and_metrics_arrive_intact(tmp_path, sink):
    sidecar_port = free_port()
    collector = Collector(tmp_path, f"127.0.0.1:{sidecar_port}", sink.endpoint)
    sidecar = SidecarProcess(tmp_path, sidecar_port, f"127.0.0.1:{collector.enriched_port}",
                             PASSTHROUGH)
    await sidecar.start()
    await collector.start()
    try:
        await sidecar.ready()
        await collector.ready()
        app = f"127.0.0.1:{collector.otlp_port}"
        traces = [make_traces(b, 50) for b in range(4)]
        logs = [make_logs(b, 30) for b in range(3)]
        metrics = [make_metrics(b, 20) for b in range(3)]
        for r in traces:
            await export(app, Signal.TRACES, r)
        for r in logs:
            await export(app, Signal.LOGS, r)
        for r in metrics:
            await export(app, Signal.METRICS, r)
        await wait_until(lambda: sink.items(Signal.TRACES) >= 200 and sink.items(Signal.LOGS)
                         >= 90 and sink.items(Signal.METRICS) >= 60, 60, "all items at the sink")

        assert spans_by_id(sink.received[Signal.TRACES]) == spans_by_id(traces)
        assert sorted(log_keys(sink.received[Signal.LOGS])) == sorted(log_keys(logs))
        assert sorted(point_keys(sink.received[Signal.METRICS])) == sorted(point_keys(metrics))
        resource = sink.received[Signal.TRACES][0].resource_spans[0].resource
        assert resource == traces[0].resource_spans[0].resource
    finally:
        await collector.stop()
        await sidecar.stop()
    assert "error" not in sidecar.output().lower()


async def test_sidecar_killed_and_restarted_mid_stream_loses_nothing(tmp_path, sink):
    sidecar_port = free_port()
    collector = Collector(tmp_path, f"127.0.0.1:{sidecar_port}", sink.endpoint)
    downstream = f"127.0.0.1:{collector.enriched_port}"
    sidecar = SidecarProcess(tmp_path, sidecar_port, downstream, PASSTHROUGH)
    await sidecar.start()
    await collector.start()
    restarted = None
    try:
        await sidecar.ready()
        await collector.ready()
        app = f"127.0.0.1:{collector.otlp_port}"
        sent = []
        for b in range(5):
            sent.append(make_traces(100 + b, 40))
            await export(app, Signal.TRACES, sent[-1])
        await sidecar.kill()  # SIGKILL: no drain, no goodbye
        for b in range(5, 10):
            sent.append(make_traces(100 + b, 40))
            await export(app, Signal.TRACES, sent[-1])  # the collector accepts and queues
        restarted = SidecarProcess(tmp_path, sidecar_port, downstream, PASSTHROUGH,
                                   name="sidecar-restarted")
        await restarted.start()
        await restarted.ready()
        expected = set(span_ids(sent))
        await wait_until(lambda: expected <= set(span_ids(sink.received[Signal.TRACES])), 90,
                         "every span sent before, during and after the kill")
        assert set(span_ids(sink.received[Signal.TRACES])) == expected
    finally:
        await collector.stop()
        await sidecar.stop()
        if restarted is not None:
            await restarted.stop()


async def test_downstream_down_then_back_loses_nothing(tmp_path):
    sink = Sink()  # reserved port, not started yet: the sidecar's downstream is down
    sidecar_port = free_port()
    # Here the sidecar exports straight to the sink, so the sink is its downstream.
    collector = Collector(tmp_path, f"127.0.0.1:{sidecar_port}", "127.0.0.1:9")
    metrics_port = free_port()
    config = tmp_path / "sidecar.yaml"
    config.write_text(f"telemetry:\n  metrics_listen: 127.0.0.1:{metrics_port}\n")
    sidecar = SidecarProcess(tmp_path, sidecar_port, sink.endpoint, config)
    await sidecar.start()
    await collector.start()
    try:
        await sidecar.ready()
        await collector.ready()
        app = f"127.0.0.1:{collector.otlp_port}"
        sent = [make_logs(200 + b, 25) for b in range(6)]
        for r in sent:
            await export(app, Signal.LOGS, r)
        # Nothing can be delivered: wait until the sidecar has answered UNAVAILABLE (the
        # collector keeps the data and retries), then bring the downstream up.
        refused = 'genai_sidecar_requests_total{code="UNAVAILABLE",signal="logs"}'
        await wait_until(lambda: refused in scrape(metrics_port), 60, "an UNAVAILABLE answer")
        await sink.start()
        expected = sorted(log_keys(sent))
        await wait_until(lambda: set(expected) <= set(log_keys(sink.received[Signal.LOGS])),
                         90, "every log record after the downstream came back")
        assert set(log_keys(sink.received[Signal.LOGS])) == set(expected)
    finally:
        await collector.stop()
        await sidecar.stop()
        await sink.stop()


async def test_sigterm_drains_and_exits_zero(tmp_path, sink):
    port = free_port()
    sidecar = SidecarProcess(tmp_path, port, sink.endpoint, PASSTHROUGH)
    await sidecar.start()
    await sidecar.ready()
    await export(f"127.0.0.1:{port}", Signal.TRACES, make_traces(300, 3))
    await sidecar.signal(os_signal.SIGTERM)
    assert await sidecar.wait(30) == 0
    assert '"msg": "genai-sidecar stopped"' in sidecar.output()
    assert sink.items(Signal.TRACES) == 3
