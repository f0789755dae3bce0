"""The collector in front, with the shipped routing: end-to-end spans/s through the real
collector and the sidecar, against the collector's own pass-through.

Traffic: bench/mixed.py's requests of 512 spans, 10% of them LLM calls with new content (an
OpenAI-instrumentation scope beside the web framework's), 90% HTTP spans. Two setups, each
exporting to the same counting OTLP server, same run:

* ``collector, pass-through``: otlp receiver -> batch -> otlp exporter (sending queue);
* ``collector + routing + sidecar``: the filters of collector-config/genai-routing.yaml split
  the receiver's traces: GenAI spans -> the sidecar (default config, its own process) -> the
  collector's otlp/enriched receiver -> the counting server; the rest -> the counting server.

The clock runs from the first request sent to the collector until the counting server has
received every span (the collector acknowledges into its queue at once, so the client's view
would flatter it). The sidecar withholds content it cannot analyze in time (its default
overload policy): the withheld count is reported beside the rate.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import yaml

from bench.mixed import IN_FLIGHT, ITEMS, SERVICES, _configs, _sidecar, _traces, send
from tests.harness import free_port


def _counting_sink(port: int, spans: Any, withheld: Any, ready: Any) -> None:
    """Counts the spans it receives, and the spans marked ``redaction.pii.status=deferred``."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    async def main() -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 256 << 20)])

        async def traces(payload: bytes, _ctx: Any) -> bytes:
            req = trace_service_pb2.ExportTraceServiceRequest.FromString(payload)
            n = deferred = 0
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    n += len(ss.spans)
                    for s in ss.spans:
                        for kv in s.attributes:
                            if (kv.key == "redaction.pii.status"
                                    and kv.value.string_value == "deferred"):
                                deferred += 1
            with spans.get_lock():
                spans.value += n
            with withheld.get_lock():
                withheld.value += deferred
            return b""

        async def other(_payload: bytes, _ctx: Any) -> bytes:
            return b""

        for signal, service in SERVICES.items():
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {
                "Export": grpc.unary_unary_rpc_method_handler(
                    traces if signal == "traces" else other,
                    request_deserializer=None, response_serializer=None)}),))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        await server.wait_for_termination()

    asyncio.run(main())


def _collector_config(routed: bool, port: int, health: int, sink: int, sidecar: int,
                      enriched: int) -> dict:
    from processors.genai.routing import filter_processors

    queue = {"enabled": True, "queue_size": 100_000, "num_consumers": 4}
    exporters: dict[str, Any] = {"otlp_grpc/sink": {
        "endpoint": f"127.0.0.1:{sink}", "tls": {"insecure": True}, "sending_queue": queue}}
    processors: dict[str, Any] = {"batch": {"send_batch_size": 512, "timeout": "200ms"}}
    receivers: dict[str, Any] = {"otlp": {"protocols": {"grpc": {
        "endpoint": f"127.0.0.1:{port}", "max_recv_msg_size_mib": 256}}}}
    if not routed:
        pipelines = {"traces": {"receivers": ["otlp"], "processors": ["batch"],
                                "exporters": ["otlp_grpc/sink"]}}
    else:
        processors |= filter_processors()
        exporters["otlp_grpc/genai"] = {"endpoint": f"127.0.0.1:{sidecar}",
                                        "tls": {"insecure": True}, "timeout": "30s",
                                        "sending_queue": queue}
        receivers["otlp/enriched"] = {"protocols": {"grpc": {
            "endpoint": f"127.0.0.1:{enriched}", "max_recv_msg_size_mib": 256}}}
        pipelines = {
            "traces/in": {"receivers": ["otlp"], "processors": ["filter/genai", "batch"],
                          "exporters": ["otlp_grpc/genai"]},
            "traces/direct": {"receivers": ["otlp"],
                              "processors": ["filter/not_genai", "batch"],
                              "exporters": ["otlp_grpc/sink"]},
            **{f"{s}/out": {"receivers": ["otlp/enriched"], "exporters": ["otlp_grpc/sink"]}
               for s in ("traces", "logs", "metrics")},
        }
    return {"extensions": {"health_check": {"endpoint": f"127.0.0.1:{health}"}},
            "receivers": receivers, "processors": processors, "exporters": exporters,
            "service": {"extensions": ["health_check"],
                        "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}},
                        "pipelines": pipelines}}


def _start_collector(config: dict, health: int, tmp: Path, name: str) -> subprocess.Popen:
    binary = os.environ.get("OTELCOL_BIN")
    if not binary:
        raise RuntimeError("OTELCOL_BIN is not set (make bench passes it)")
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([binary, "--config", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited: {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health}/", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("collector not ready in 60 s")


def _measure(port: int, payloads: list[bytes], spans: Any, timeout: float = 600) -> float:
    start = spans.value
    expected = start + len(payloads) * ITEMS
    t0 = time.perf_counter()
    asyncio.run(send(port, "traces", payloads))
    deadline = time.monotonic() + timeout
    while spans.value < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{expected - spans.value} spans never arrived")
        time.sleep(0.01)
    return len(payloads) * ITEMS / (time.perf_counter() - t0)


def run(quick: bool = False) -> str:
    rounds, n = (1, 10) if quick else (3, 40)
    ctx = mp.get_context("spawn")
    spans, withheld, ready = ctx.Value("q", 0), ctx.Value("q", 0), ctx.Event()
    sink_port = free_port()
    sink = ctx.Process(target=_counting_sink, args=(sink_port, spans, withheld, ready),
                       daemon=True)
    sink.start()
    ready.wait(60)
    rates: dict[str, list[float]] = {}
    withheld_share: list[float] = []
    procs: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory() as td:
            tmp = Path(td)
            ports = {k: free_port() for k in ("pt", "pt_h", "rt", "rt_h", "enriched")}
            procs.append(_start_collector(_collector_config(
                False, ports["pt"], ports["pt_h"], sink_port, 0, 0), ports["pt_h"], tmp, "pt"))
            side_cfg = _configs(ports["enriched"])["default config"]
            side_proc, side_port = _sidecar(side_cfg, tmp, "sidecar-routed")
            procs.append(side_proc)
            procs.append(_start_collector(_collector_config(
                True, ports["rt"], ports["rt_h"], sink_port, side_port, ports["enriched"]),
                ports["rt_h"], tmp, "routed"))
            setups = {"collector, pass-through": ports["pt"],
                      "collector + routing + sidecar (default config)": ports["rt"]}
            for r in range(rounds):
                for name, port in setups.items():
                    payloads = _traces(n, 0.10, 5000 + 10 * r + len(name))
                    print(f"  routing: round {r + 1}/{rounds}: {name}", file=sys.stderr,
                          flush=True)
                    before = withheld.value
                    rates.setdefault(name, []).append(_measure(port, payloads, spans))
                    if "sidecar" in name:
                        llm = n * round(ITEMS * 0.10)
                        withheld_share.append((withheld.value - before) / llm)
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)
        sink.terminate()
        sink.join(10)
    base = statistics.median(rates["collector, pass-through"])
    rows = [f"| {name} | {statistics.median(v):,.0f} | {statistics.median(v) / base:.2f}x |"
            for name, v in rates.items()]
    return (
        "## The collector in front, with the shipped routing\n\n"
        f"`make bench` (`python -m bench routing`), {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} CPUs shared by everything. {n} requests of {ITEMS} spans per round "
        f"(10% LLM calls with new content, 90% HTTP), {IN_FLIGHT} in flight to the collector; "
        "spans/s from the first request to the last span at the counting server, median of "
        f"{rounds} round(s).\n\n"
        "| setup | spans/s (median) | ratio to pass-through |\n|---|---|---|\n"
        + "\n".join(rows) + "\n\n"
        f"LLM spans whose content the sidecar withheld (overload policy withhold): median "
        f"{statistics.median(withheld_share):.0%} of them.\n"
    )
