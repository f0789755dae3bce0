"""The sidecar runtime alone: throughput and added latency against a no-op downstream.

Three servers are measured in the same run, each in its own process pinned to CPU 0 while the
load generator and the no-op downstream share CPU 1:

* ``no-op``: a gRPC server that only acknowledges (the floor of any OTLP hop);
* ``sidecar (empty chain)``: decode + count, forward the received bytes, wait for the ack;
* ``sidecar (re-encode)``: one processor that touches nothing, so the batch is decoded,
  re-encoded and forwarded (what every configured chain pays before its own work);
* ``sidecar (cost processor)``: the cost processor alone, every span an LLM span (the
  end-to-end view of ``bench/cost.py``'s in-process figures).

Batches are 512 chat spans with 1 KB or 4 KB of prompt content. Throughput uses 8 requests in
flight; latency is measured one request at a time, and the sidecar's *added* latency is its
percentile minus the no-op server's percentile of the same run.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import time
from typing import Any

import grpc

from sidecar.component import RESPONSE_TYPES, Processor, Signal
from tests.harness import free_port

SPANS = 512
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {cpu})


# --------------------------------------------------------------------------------------------
# Servers (each runs in a child process)
# --------------------------------------------------------------------------------------------
def _noop_server(port: int, ready: Any, cpu: int) -> None:
    _pin(cpu)

    async def main() -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 << 20)])
        empty = RESPONSE_TYPES[Signal.TRACES]().SerializeToString()

        async def export(_payload: bytes, _ctx: Any) -> bytes:
            return empty

        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(
                export, request_deserializer=None, response_serializer=None)},
        )
        server.add_generic_rpc_handlers((handler,))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        await server.wait_for_termination()

    asyncio.run(main())


class _Touch(Processor):
    """Touches nothing; forces the decode/encode path of a non-empty chain."""

    async def process(self, batch: Any, ctx: Any) -> Any:
        return batch


def _sidecar_server(port: int, downstream: int, chain: str, ready: Any, cpu: int) -> None:
    _pin(cpu)
    from sidecar.exporter import OtlpExporter
    from sidecar.pipeline import Pipeline
    from sidecar.registry import build_config
    from sidecar.server import OtlpReceiver
    from sidecar.telemetry import Telemetry

    async def main() -> None:
        cfg = build_config({"server": {"listen": f"127.0.0.1:{port}",
                                       "max_in_flight_requests": 64},
                            "exporter": {"endpoint": f"127.0.0.1:{downstream}"}}, "bench", {})
        telemetry = Telemetry("bench")
        exporter = OtlpExporter(cfg.exporter, telemetry)
        if chain == "re-encode":
            chains = {Signal.TRACES: [("touch", _Touch())]}
        elif chain == "cost":
            from sidecar.registry import FACTORIES

            factory = FACTORIES["cost"]
            chains = {Signal.TRACES: [("cost", factory.create(factory.default_config()))]}
        else:
            chains = {}
        pipeline = Pipeline(chains, exporter, telemetry)
        receiver = OtlpReceiver(cfg.server, pipeline, telemetry)
        await exporter.start()
        await pipeline.start()
        await receiver.start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


# --------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------
async def _throughput(port: int, payload: bytes, requests: int, concurrency: int) -> float:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        call = ch.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
        for _ in range(3):  # warm-up
            await call(payload, timeout=30)
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                await call(payload, timeout=30)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests * SPANS / (time.perf_counter() - t0)


async def _latencies(port: int, payload: bytes, requests: int) -> list[float]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        call = ch.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
        for _ in range(3):
            await call(payload, timeout=30)
        out = []
        for _ in range(requests):
            t0 = time.perf_counter()
            await call(payload, timeout=30)
            out.append(time.perf_counter() - t0)
        return out


def _peak_rss_mib(pid: int) -> float:
    """VmHWM of a process: its peak resident memory so far."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _payload(content_bytes: int) -> bytes:
    from tests.harness import make_traces

    return make_traces(1, SPANS, content_bytes=content_bytes).SerializeToString()


def run(quick: bool = False) -> str:
    """Measure and return the Markdown section for docs/PERFORMANCE.md."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        return _run(quick)
    finally:
        # The load generator pinned itself; later benchmarks in this process (and the
        # servers they spawn, which inherit it) must get every CPU back.
        if affinity is not None:
            os.sched_setaffinity(0, affinity)


def _run(quick: bool) -> str:
    ctx = mp.get_context("spawn")
    rounds, requests, lat_requests = (1, 20, 30) if quick else (5, 120, 200)
    _pin(1)
    noop_port, side_port, reenc_port, cost_port = (free_port() for _ in range(4))
    procs = []
    events = []
    for target, args in (
        (_noop_server, (noop_port,)),
        (_sidecar_server, (side_port, noop_port, "empty")),
        (_sidecar_server, (reenc_port, noop_port, "re-encode")),
        (_sidecar_server, (cost_port, noop_port, "cost")),
    ):
        ev = ctx.Event()
        cpu = 1 if target is _noop_server else 0
        p = ctx.Process(target=target, args=(*args, ev, cpu), daemon=True)
        p.start()
        procs.append(p)
        events.append(ev)
    try:
        for ev in events:
            if not ev.wait(60):
                raise RuntimeError("a benchmark server did not start")
        servers = {"no-op gRPC server": noop_port, "sidecar, empty chain": side_port,
                   "sidecar, re-encode": reenc_port, "sidecar, cost processor": cost_port}
        pids = dict(zip(servers, (p.pid for p in procs), strict=True))
        rows = []
        for content in (1024, 4096):
            payload = _payload(content)
            tput: dict[str, list[float]] = {k: [] for k in servers}
            lat: dict[str, list[float]] = {k: [] for k in servers}
            for r in range(rounds):
                for name, port in servers.items():
                    print(f"  {content} B content, round {r + 1}/{rounds}: {name}",
                          file=sys.stderr, flush=True)
                    tput[name].append(asyncio.run(_throughput(port, payload, requests, 8)))
                    lat[name].extend(asyncio.run(_latencies(port, payload, lat_requests // rounds
                                                            or 1)))
            base_p50, base_p99 = _pct(lat["no-op gRPC server"], 0.5), _pct(
                lat["no-op gRPC server"], 0.99)
            base_tput = statistics.median(tput["no-op gRPC server"])
            for name in servers:
                med = statistics.median(tput[name])
                p50, p99 = _pct(lat[name], 0.5), _pct(lat[name], 0.99)
                added = "" if name.startswith("no-op") else (
                    f"{(p50 - base_p50) * 1e3:.2f} | {(p99 - base_p99) * 1e3:.2f}")
                rows.append(
                    f"| {content} B | {name} | {med:,.0f} | {med / base_tput:.2f} | "
                    f"{p50 * 1e3:.2f} | {p99 * 1e3:.2f} | {added or '- | -'} | "
                    f"{_peak_rss_mib(pids[name]):.0f} |"
                )
    finally:
        for p in procs:
            p.terminate()
            p.join(10)
    head = (
        "## Runtime: the sidecar alone\n\n"
        f"`make bench` (`python -m bench runtime`), {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} CPUs. Each server process pinned to CPU 0; the load generator and "
        f"the no-op downstream on CPU 1. Batches of {SPANS} chat spans; throughput with 8 "
        f"requests in flight, median of {rounds} rounds of {requests} requests; latency one "
        "request at a time, percentiles over all rounds. Added latency = the sidecar's "
        "percentile minus the no-op server's, same run.\n\n"
        "| content | server | spans/s (median) | ratio to no-op | p50 ms | p99 ms "
        "| added p50 ms | added p99 ms | peak RSS MiB (so far) |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(rows) + "\n"
