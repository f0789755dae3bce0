"""Mixed traffic through the real sidecar process: what a pod's ordinary telemetry costs.

The sidecar sits on the path of all of a pod's telemetry unless the collector routes (the
shipped configs do, collector-config/*.yaml): this measures it without that help. Two sidecar
processes (``genai-sidecar run``), each exporting to the same no-op OTLP server, same run:

* ``empty chain``: every pipeline empty (decode, count, forward the received bytes);
* ``default config``: the embedded default (cost, redaction in NER mode with its worker
  processes, genai_metrics, inference_logs; logs: redaction).

Workloads, 512 items per request, 8 requests in flight, every LLM span with content of its own
(no cache hit helps): HTTP/DB spans only; 1% and 10% LLM spans (an OpenAI-instrumentation scope
beside the web framework's, as applications send them) with ~1.4 KB of new content each; plain
application log lines. Each figure is the median of the rounds; the ratio is against the empty
chain of the same round set.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import yaml

ITEMS = 512
IN_FLIGHT = 8
SERVICES = {
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
}
_WORDS = (
    "account", "invoice", "order", "shipping", "refund", "delivery", "package", "status",
    "update", "please", "thanks", "question", "answer", "support", "help", "reset", "password",
    "login", "error", "timeout", "payment", "card", "subscription", "plan", "upgrade", "cancel",
    "monday", "tuesday", "friday", "morning", "evening", "tomorrow", "yesterday", "office",
    "warehouse", "ticket", "priority", "customer", "agent", "manager", "team", "report",
    "summary", "draft", "meeting", "schedule", "calendar", "reminder", "note",
)


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------
def _noop(port: int, ready: Any) -> None:
    async def main() -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 256 << 20)])

        async def export(_payload: bytes, _ctx: Any) -> bytes:
            return b""  # an empty Export*ServiceResponse

        for service in SERVICES.values():
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {
                "Export": grpc.unary_unary_rpc_method_handler(
                    export, request_deserializer=None, response_serializer=None)}),))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        await server.wait_for_termination()

    asyncio.run(main())


def _sidecar(config: dict, tmp: Path, name: str) -> tuple[subprocess.Popen, int]:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "run", "--config", str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on port" in line:
            return proc, int(line.split("listening on port")[1].split()[0])
    raise RuntimeError(f"sidecar ({name}) exited before listening: {proc.wait()}")


def _configs(downstream: int) -> dict[str, dict]:
    from sidecar.config import default_config_text

    base = yaml.safe_load(default_config_text())
    base["server"] = {"listen": "127.0.0.1:0", "max_recv_msg_size_mib": 256,
                      "default_request_timeout": "600s"}
    base["exporter"] = {"endpoint": f"127.0.0.1:{downstream}", "timeout": "60s"}
    base["telemetry"] = {"metrics_listen": None, "log_level": "warning"}
    empty = {**base, "processors": {}, "pipelines": {"traces": [], "logs": [], "metrics": []}}
    return {"empty chain": empty, "default config": base}


# --------------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------------
def _http_span(rng: random.Random, i: int):
    from opentelemetry.proto.trace.v1 import trace_pb2

    from tests.harness import kv

    route = rng.choice(("/api/items/{id}", "/api/orders/{id}", "/health", "/api/cart"))
    return trace_pb2.Span(
        trace_id=rng.randbytes(16), span_id=rng.randbytes(8), name=f"GET {route}",
        kind=trace_pb2.Span.SPAN_KIND_SERVER, start_time_unix_nano=1, end_time_unix_nano=2,
        attributes=[kv("http.request.method", "GET"), kv("http.route", route),
                    kv("url.path", route.replace("{id}", str(i))), kv("url.scheme", "https"),
                    kv("http.response.status_code", 200), kv("server.address", "shop.internal"),
                    kv("network.peer.address", f"10.0.{i % 250}.{rng.randrange(250)}"),
                    kv("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120")])


def _text(rng: random.Random, chars: int, serial: int) -> str:
    words = [f"request {serial}:"]
    n = len(words[0])
    while n < chars:
        w = rng.choice(_WORDS)
        words.append(w)
        n += len(w) + 1
    if rng.random() < 0.5:
        words.insert(rng.randrange(1, len(words)), f"jo.doe{serial}@example.org")
    return " ".join(words)


def _llm_span(rng: random.Random, serial: int):
    from opentelemetry.proto.trace.v1 import trace_pb2

    from tests.harness import kv

    prompt = json.dumps([{"role": "user", "parts": [{"type": "text",
                                                     "content": _text(rng, 1000, serial)}]}])
    answer = json.dumps([{"role": "assistant", "finish_reason": "stop", "parts": [
        {"type": "text", "content": _text(rng, 400, serial)}]}])
    return trace_pb2.Span(
        trace_id=rng.randbytes(16), span_id=rng.randbytes(8), name="chat gpt-4o-mini",
        kind=trace_pb2.Span.SPAN_KIND_CLIENT, start_time_unix_nano=1, end_time_unix_nano=2,
        attributes=[kv("gen_ai.operation.name", "chat"), kv("gen_ai.provider.name", "openai"),
                    kv("gen_ai.request.model", "gpt-4o-mini"),
                    kv("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                    kv("gen_ai.usage.input_tokens", 310), kv("gen_ai.usage.output_tokens", 95),
                    kv("gen_ai.input.messages", prompt), kv("gen_ai.output.messages", answer)])


def _traces(n: int, llm_share: float, seed: int) -> list[bytes]:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    from tests.harness import kv

    rng = random.Random(seed)
    llm = round(ITEMS * llm_share)
    out = []
    for r in range(n):
        req = trace_service_pb2.ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.resource.attributes.append(kv("service.name", "shop-api"))
        web = rs.scope_spans.add()
        web.scope.name = "opentelemetry.instrumentation.fastapi"
        web.spans.extend(_http_span(rng, i) for i in range(ITEMS - llm))
        if llm:
            ai = rs.scope_spans.add()
            ai.scope.name = "opentelemetry.instrumentation.openai_v2"
            ai.spans.extend(_llm_span(rng, seed * 1_000_000 + r * 1000 + i) for i in range(llm))
        out.append(req.SerializeToString())
    return out


def _logs(n: int, seed: int) -> list[bytes]:
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2

    from tests.harness import kv

    rng = random.Random(seed)
    out = []
    for r in range(n):
        req = logs_service_pb2.ExportLogsServiceRequest()
        rl = req.resource_logs.add()
        rl.resource.attributes.append(kv("service.name", "shop-api"))
        sl = rl.scope_logs.add()
        sl.scope.name = "shop.api"
        for i in range(ITEMS):
            lr = sl.log_records.add(time_unix_nano=1, severity_number=9, severity_text="INFO")
            lr.body.CopyFrom(common_pb2.AnyValue(string_value=(
                f"GET /api/orders/{r * ITEMS + i} 200 in {rng.randrange(2, 90)} ms "
                f"user={rng.randrange(10**6)} cart={rng.choice(_WORDS)}")))
            lr.attributes.extend([kv("http.route", "/api/orders/{id}"),
                                  kv("code.function", "get_order")])
        out.append(req.SerializeToString())
    return out


# --------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------
async def send(port: int, signal: str, payloads: list[bytes]) -> None:
    """Send every payload, IN_FLIGHT at a time (raw bytes, no re-encoding)."""
    opts = [("grpc.max_send_message_length", 256 << 20)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=opts) as ch:
        call = ch.unary_unary(f"/{SERVICES[signal]}/Export", request_serializer=None,
                              response_deserializer=None)
        queue = iter(payloads)

        async def sender() -> None:
            for payload in queue:
                await call(payload, timeout=600)

        await asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))


async def _rate(port: int, signal: str, payloads: list[bytes]) -> float:
    """Items per second for sending every payload, IN_FLIGHT at a time."""
    t0 = time.perf_counter()
    await send(port, signal, payloads)
    return len(payloads) * ITEMS / (time.perf_counter() - t0)


def run(quick: bool = False) -> str:
    rounds = 1 if quick else 3
    #: (label, signal, payloads per round: empty chain, default config, generator)
    workloads = [
        ("spans, none of them LLM calls (HTTP)", "traces", 200, 200,
         lambda n, s: _traces(n, 0.0, s)),
        ("spans, 1% LLM calls, new content", "traces", 200, 40,
         lambda n, s: _traces(n, 0.01, s)),
        ("spans, 10% LLM calls, new content", "traces", 200, 12,
         lambda n, s: _traces(n, 0.10, s)),
        ("plain application log lines", "logs", 200, 200, _logs),
    ]
    if quick:
        workloads = [(a, b, max(8, c // 8), max(8, d // 4), g) for a, b, c, d, g in workloads]
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            noop_port = s.getsockname()[1]
        noop = ctx.Process(target=_noop, args=(noop_port, ready), daemon=True)
        noop.start()
        ready.wait(60)
        procs = {}
        try:
            for name, cfg in _configs(noop_port).items():
                procs[name] = _sidecar(cfg, tmp, name.replace(" ", "-"))
            rows = []
            for w, (label, signal, n_empty, n_default, gen) in enumerate(workloads):
                rates: dict[str, list[float]] = {k: [] for k in procs}
                for r in range(rounds):
                    for name, (_proc, port) in procs.items():
                        n = n_empty if name == "empty chain" else n_default
                        payloads = gen(n, 1000 * w + 10 * r + (name == "empty chain"))
                        asyncio.run(_rate(port, signal, payloads[:2]))  # warm-up
                        print(f"  mixed: {label}, round {r + 1}/{rounds}: {name}",
                              file=sys.stderr, flush=True)
                        rates[name].append(asyncio.run(_rate(port, signal, payloads)))
                base = statistics.median(rates["empty chain"])
                dflt = statistics.median(rates["default config"])
                rows.append(f"| {label} | {base:,.0f} | {dflt:,.0f} | {dflt / base:.2f}x |")
        finally:
            for proc, _port in procs.values():
                proc.terminate()
                proc.wait(30)
            noop.terminate()
            noop.join(10)
    return fairness(quick) + "\n" + (
        "## Mixed traffic through the sidecar (no routing in front)\n\n"
        f"`make bench` (`python -m bench mixed`), {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} CPUs shared by the load generator, the no-op downstream and the "
        f"sidecars (each with its default worker processes). {ITEMS} items per request, "
        f"{IN_FLIGHT} in flight, median of {rounds} round(s); each LLM span carries ~1.4 KB of "
        "content seen nowhere else. Items/s measured at the client (each answer comes after "
        "the downstream accepted the batch).\n\n"
        "| traffic | empty chain items/s | default config items/s | ratio |\n"
        "|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


# --------------------------------------------------------------------------------------------
# Fairness: a small request beside a concurrent large prompt
# --------------------------------------------------------------------------------------------
def _big_prompt(seed: int) -> tuple[bytes, list[str]]:
    """One LLM span whose prompt is 16 distinct messages of 64 KB (1 MB), each holding an
    e-mail address; returns the request and the addresses."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    from tests.harness import kv

    rng = random.Random(seed)
    emails = [f"big.prompt{seed}.{i}@example.org" for i in range(16)]
    messages = []
    for i, email in enumerate(emails):
        text = _text(rng, 64 * 1024 - 80, seed * 100 + i)
        cut = len(text) // 2
        messages.append({"role": "user", "parts": [{"type": "text", "content":
                         f"{text[:cut]} write to {email} {text[cut:]}"}]})
    req = trace_service_pb2.ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add(
        name="chat gpt-4o", trace_id=rng.randbytes(16), span_id=rng.randbytes(8))
    span.attributes.extend([kv("gen_ai.operation.name", "chat"),
                            kv("gen_ai.request.model", "gpt-4o"),
                            kv("gen_ai.input.messages", json.dumps(messages))])
    return req.SerializeToString(), emails


async def _fairness(config: dict, tmp: Path, small: int) -> dict[str, Any]:
    """The large prompt and, meanwhile, ``small`` one-span requests one after another, through
    a sidecar exporting to a capturing server; latencies and whether an address got out."""
    captured: list[bytes] = []
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 256 << 20)])

    async def export(payload: bytes, _ctx: Any) -> bytes:
        captured.append(payload)
        return b""

    for service in SERVICES.values():
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {
            "Export": grpc.unary_unary_rpc_method_handler(
                export, request_deserializer=None, response_serializer=None)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    cfg = {**config, "exporter": {"endpoint": f"127.0.0.1:{port}", "timeout": "60s"}}
    proc, side = await asyncio.to_thread(_sidecar, cfg, tmp, "fairness")
    try:
        big, emails = _big_prompt(7)
        smalls = _traces(small, 1.0 / ITEMS, 99)  # one LLM span with ~1.4 KB each
        opts = [("grpc.max_send_message_length", 256 << 20)]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{side}", options=opts) as ch:
            call = ch.unary_unary(f"/{SERVICES['traces']}/Export", request_serializer=None,
                                  response_deserializer=None)
            await call(smalls[0], timeout=60)  # warm-up

            async def timed(payload: bytes, timeout: float) -> float:
                t0 = time.perf_counter()
                await call(payload, timeout=timeout)
                return time.perf_counter() - t0

            large = asyncio.ensure_future(timed(big, 120))
            await asyncio.sleep(0.2)
            lat = [await timed(p, 30) for p in smalls[1:]]
            big_s = await large
        out = b"".join(captured)
        leaked = sum(e.encode() in out for e in emails)
        deferred = _deferred_small(captured)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
        await server.stop(None)
    lat.sort()
    return {"p50": lat[len(lat) // 2], "p95": lat[min(len(lat) - 1, int(0.95 * len(lat)))],
            "big": big_s, "leaked": leaked, "n": len(lat), "deferred": deferred}


def _deferred_small(captured: list[bytes]) -> str:
    """Of the small requests' LLM spans that came out, how many had content withheld."""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    total = withheld = 0
    for payload in captured:
        try:
            req = trace_service_pb2.ExportTraceServiceRequest.FromString(payload)
        except DecodeError:
            continue  # a logs or metrics export
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    if span.name != "chat gpt-4o-mini":
                        continue
                    total += 1
                    withheld += any(kv.key == "redaction.pii.status"
                                    and kv.value.string_value == "deferred"
                                    for kv in span.attributes)
    return f"{withheld} of {total}"


def fairness(quick: bool = False) -> str:
    from sidecar.config import default_config_text

    base = yaml.safe_load(default_config_text())
    base["server"] = {"listen": "127.0.0.1:0", "max_recv_msg_size_mib": 256,
                      "default_request_timeout": "600s"}
    base["telemetry"] = {"metrics_listen": None, "log_level": "warning"}
    rows = []
    with tempfile.TemporaryDirectory() as td:
        for policy in ("withhold", "wait"):
            cfg = yaml.safe_load(yaml.safe_dump(base))
            cfg["processors"]["redaction"] = {"overload": {"policy": policy}}
            print(f"  fairness: overload policy {policy}", file=sys.stderr, flush=True)
            r = asyncio.run(_fairness(cfg, Path(td), 12 if quick else 40))
            rows.append(f"| {policy} | {r['n']} | {r['p50']:.2f} | {r['p95']:.2f} | "
                        f"{r['deferred']} | {r['big']:.1f} | {r['leaked']} of 16 |")
    return (
        "## Fairness: small requests beside a 1 MB prompt\n\n"
        f"`make bench` (`python -m bench mixed`), {time.strftime('%Y-%m-%d')}: the default "
        "config with each overload policy; one request holding a 1 MB prompt (16 distinct "
        "messages of 64 KB, an e-mail address in each) and, meanwhile, one-span requests "
        "(~1.4 KB of new content) sent one after another; the sidecar exports to a capturing "
        "server, which is searched for the 16 addresses afterwards.\n\n"
        "| overload policy | small requests | small p50 s | small p95 s "
        "| small spans with content withheld | 1 MB request s | addresses forwarded |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
