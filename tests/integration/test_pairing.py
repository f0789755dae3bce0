"""One Anthropic call, two spans (OpenLLMetry's and the Anthropic SDK's own, the captured shapes
of processors/calls/testdata), sent to the real `genai-sidecar run` process in separate
requests, in both orders: the far end gets one inference record and one counted request per
call, and a parent whose SDK child never comes is released by the process's own tick.

    client --OTLP--> sidecar (cost, genai_calls, genai_metrics, inference_logs) --> sink
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

import processors.calls as calls
from sidecar import otlpjson
from sidecar import semconv as sc
from sidecar.component import Signal
from tests.harness import SidecarProcess, Sink, export, free_port, wait_until
from tests.llm_spans import split_by_scope

pytestmark = pytest.mark.integration

PAIR = json.loads((Path(calls.__file__).parent / "testdata" /
                   "openllmetry_parent_with_sdk_child.json").read_text())


def _call(n: int) -> tuple[object, object]:
    """Call ``n`` of its own trace, as (library span request, SDK span request)."""
    doc = copy.deepcopy(PAIR)
    trace = f"{n:032x}"
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                span["traceId"] = trace
    parent, child = split_by_scope(doc, sc.GENAI_SCOPE_ANTHROPIC_SDK)
    return (otlpjson.from_dict(Signal.TRACES, parent),
            otlpjson.from_dict(Signal.TRACES, child))


@pytest.fixture
async def sink():
    s = await Sink().start()
    yield s
    await s.stop()


def _records(sink: Sink) -> list[object]:
    return [r for req in sink.received[Signal.LOGS] for rl in req.resource_logs
            for sl in rl.scope_logs for r in sl.log_records
            if r.event_name == sc.EVENT_INFERENCE]


def _last_requests_total(sink: Sink) -> float:
    total = None
    for req in sink.received[Signal.METRICS]:
        found = [p.as_double or p.as_int for rm in req.resource_metrics
                 for sm in rm.scope_metrics for m in sm.metrics if m.name == sc.METRIC_REQUESTS
                 for p in m.sum.data_points]
        if found:
            total = math.fsum(found)  # cumulative: the last export has the totals
    return total or 0.0


async def test_split_pairs_count_once_and_a_lone_parent_is_released(tmp_path, sink):
    cfg = tmp_path / "sidecar.yaml"
    cfg.write_text(
        "telemetry:\n  metrics_listen: null\n"
        "processors:\n  cost: {}\n"
        "  genai_calls:\n    pairing_window: 1s\n    tick_interval: 100ms\n"
        "  genai_metrics:\n    interval: 200ms\n"
        "  inference_logs: {}\n"
        "pipelines:\n  traces: [cost, genai_calls, genai_metrics, inference_logs]\n", "utf-8")
    port = free_port()
    sidecar = SidecarProcess(tmp_path, port, sink.endpoint, cfg)
    await sidecar.start()
    try:
        await sidecar.ready()
        endpoint = f"127.0.0.1:{port}"
        a_parent, a_child = _call(1)
        b_parent, b_child = _call(2)
        c_parent, _ = _call(3)
        await export(endpoint, Signal.TRACES, a_parent)  # parent first
        await export(endpoint, Signal.TRACES, a_child)
        await export(endpoint, Signal.TRACES, b_child)  # SDK span first
        await export(endpoint, Signal.TRACES, b_parent)
        await export(endpoint, Signal.TRACES, c_parent)  # no SDK span ever comes
        # The lone parent is released by a tick, with no request arriving.
        await wait_until(lambda: len(_records(sink)) >= 3, 30, "three inference records")
        await wait_until(lambda: _last_requests_total(sink) >= 3, 30, "three counted calls")
    finally:
        await sidecar.stop()
    records = _records(sink)
    assert len(records) == 3, [r.span_id.hex() for r in records]
    sdk = {s["spanId"] for rs in PAIR["resourceSpans"] for ss in rs["scopeSpans"]
           if ss["scope"]["name"] == sc.GENAI_SCOPE_ANTHROPIC_SDK for s in ss["spans"]}
    by_trace = {int.from_bytes(r.trace_id, "big"): r.span_id.hex() for r in records}
    assert by_trace[1] in sdk and by_trace[2] in sdk  # the SDK span's counts kept
    assert by_trace[3] not in sdk
    assert _last_requests_total(sink) == 3  # after the shutdown export too
    # Every span was forwarded, on time, unchanged in number.
    assert sink.items(Signal.TRACES) == 5
