"""Redaction end to end through the sidecar, against naive per-span Presidio in the same run.

Workload (issue 4): 512-span batches of chat spans from 5-turn conversations; each call resends
the whole history in ``gen_ai.input.messages`` (a 2 KB system prompt shared by all, then the
user and assistant turns so far), about 1 KB of new user text per turn (Faker prose with a
name, e-mail, phone and sometimes a card or address), and the reply (~400 B) in
``gen_ai.output.messages``. Batches arrive in time order: batch k holds turn (k mod 5) + 1 of
512 conversations, so every batch brings ~1024 never-seen texts (new user turn + new reply)
and the history repeats what earlier batches carried.

Measured, each mode in a fresh sidecar subprocess (``python -m sidecar.cli run``, redaction
only in the traces chain, default worker count = cores) exporting to a no-op gRPC server on
port 0 (groups of 512 conversations: the first sent one batch at a time, then ``ROUNDS``
rounds of ``IN_FLIGHT`` more groups interleaved turn by turn with ``IN_FLIGHT`` batches in
flight, as a collector's exporter sends them):

* spans/s of the interleaved groups, the median of the rounds (the cache warms as
  conversations progress, as in production), and of the first group (one batch in flight);
* p50 / p99 added latency per batch of the first group (round trip minus the no-op
  server's);
* peak RSS of the sidecar process and of its workers (VmHWM, summed over workers);
* naive per-span Presidio: ``AnalyzerEngine`` with the same model (full spaCy pipeline), one
  ``analyze`` per span over the input and output JSON strings, one process, on a sample of
  the same spans; its spans/s is ``1 / mean seconds per span``.

``BENCH_REDACTION_MODES=patterns`` (or ``ner``) measures one mode only, for quick A/B runs.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from bench.runtime import TRACE_EXPORT, _noop_server, _pct

SPANS = 512
TURNS = 5
IN_FLIGHT = 2
#: Throughput rounds per mode (the median is reported: the machine is shared and noisy).
ROUNDS = 3


# --------------------------------------------------------------------------------------------
# Workload
# --------------------------------------------------------------------------------------------
def _conversations(n: int, seed: int) -> tuple[str, list[list[tuple[str, str]]]]:
    from faker import Faker

    f = Faker("en_US")
    f.seed_instance(seed)
    rng = random.Random(seed)
    system = ("You are the support assistant of Acme Cloud. " +
              " ".join(f.paragraph(nb_sentences=6) for _ in range(12)))[:2048]
    convs = []
    for _ in range(n):
        name, email, phone = f.name(), f.email(), f.phone_number()
        turns = []
        for t in range(TURNS):
            extra = ""
            if rng.random() < 0.3:
                extra = f" My card is {f.credit_card_number()}."
            if rng.random() < 0.3:
                extra += f" Ship it to {f.street_address()}, {f.city()}."
            user = (f"Hi, this is {name} ({email}, {phone}).{extra} " if t == 0 else
                    f"Thanks. Again, reach me at {phone}.{extra} ")
            while len(user) < 1000:
                user += f.paragraph(nb_sentences=4) + " "
            reply = ""
            while len(reply) < 400:
                reply += f.paragraph(nb_sentences=3) + " "
            turns.append((user[:1024], reply[:420]))
        convs.append(turns)
    return system, convs


def _span_attrs(system: str, turns: list[tuple[str, str]], t: int) -> tuple[str, str]:
    def msg(role: str, text: str) -> dict:
        return {"role": role, "parts": [{"type": "text", "content": text}]}

    history = [msg("system", system)]
    for u, a in turns[:t]:
        history += [msg("user", u), msg("assistant", a)]
    history.append(msg("user", turns[t][0]))
    return json.dumps(history), json.dumps([msg("assistant", turns[t][1]) | {
        "finish_reason": "stop"}])


def _batches(groups: int, seed: int) -> list[bytes]:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2

    out = []
    for g in range(groups):
        system, convs = _conversations(SPANS, seed + g)
        for t in range(TURNS):
            spans = []
            for c, turns in enumerate(convs):
                inp, outp = _span_attrs(system, turns, t)
                kv = common_pb2.KeyValue
                av = common_pb2.AnyValue
                spans.append(trace_pb2.Span(
                    trace_id=os.urandom(16), span_id=os.urandom(8), name="chat gpt-4o",
                    kind=trace_pb2.Span.SPAN_KIND_CLIENT,
                    start_time_unix_nano=1, end_time_unix_nano=2,
                    attributes=[kv(key="gen_ai.operation.name", value=av(string_value="chat")),
                                kv(key="gen_ai.request.model", value=av(string_value="gpt-4o")),
                                kv(key="gen_ai.input.messages", value=av(string_value=inp)),
                                kv(key="gen_ai.output.messages", value=av(string_value=outp)),
                                kv(key="conversation.id", value=av(string_value=f"{g}-{c}"))]))
            req = ts.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
                scope_spans=[trace_pb2.ScopeSpans(spans=spans)])])
            out.append(req.SerializeToString())
    return out


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------
def _start_noop() -> tuple[Any, int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_noop_server, args=(port, ready, 1), daemon=True)
    proc.start()
    ready.wait(60)
    return proc, port


def _start_sidecar(mode: str, downstream: int, tmp: Path) -> tuple[subprocess.Popen, int]:
    cfg = tmp / f"sidecar-{mode}.yaml"
    cfg.write_text(
        "server: {listen: '127.0.0.1:0', max_recv_msg_size_mib: 256, "
        "default_request_timeout: 600s}\n"
        f"exporter: {{endpoint: '127.0.0.1:{downstream}', timeout: 60s}}\n"
        "telemetry: {metrics_listen: null, log_level: warning}\n"
        # policy wait: this measures how fast content is analyzed, so none may be withheld
        # (bench/mixed.py measures the withhold policy under a flood)
        f"processors:\n  redaction: {{mode: {mode}, overload: {{policy: wait}}}}\n"
        "pipelines: {traces: [redaction]}\n")
    proc = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "run", "--config", str(cfg)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # the readiness line names the bound port
        if "listening on port" in line:
            return proc, int(line.split("listening on port")[1].split()[0])
    raise RuntimeError(f"sidecar ({mode}) exited before listening: {proc.wait()}")


def _vm_hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            out += [int(p) for p in (task / "children").read_text().split()]
    return out + [g for c in out for g in _children(c)]


async def _send_all(port: int, batches: list[bytes], in_flight: int = 1) -> list[float]:
    """Send every batch with ``in_flight`` requests at a time; latency of each."""
    opts = [("grpc.max_send_message_length", 256 << 20)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=opts) as ch:
        call = ch.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
        out: list[float] = []
        queue = iter(batches)

        async def sender() -> None:
            for payload in queue:
                t0 = time.perf_counter()
                await call(payload, timeout=600)
                out.append(time.perf_counter() - t0)

        await asyncio.gather(*(sender() for _ in range(in_flight)))
        return out


def _naive_seconds_per_span(batches: list[bytes], sample: int) -> float:
    """Presidio as a naive processor would use it: the whole content of each span, per span."""
    import logging

    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from processors.redaction.config import DEFAULT_ENTITIES, ModelConfig
    from processors.redaction.engine import preseed_tldextract

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    preseed_tldextract()
    nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": ModelConfig().name}])
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    rng = random.Random(1)
    spans = []
    for payload in batches[:TURNS]:
        req = ts.ExportTraceServiceRequest.FromString(payload)
        spans += list(req.resource_spans[0].scope_spans[0].spans)
    picked = rng.sample(spans, sample)
    entities = [e.value for e in DEFAULT_ENTITIES]
    t0 = time.perf_counter()
    for span in picked:
        for kv in span.attributes:
            if kv.key.endswith("messages"):
                engine.analyze(kv.value.string_value, language="en", entities=entities)
    return (time.perf_counter() - t0) / sample


def _measure_mode(mode: str, batches: list[bytes], noop_port: int, tmp: Path,
                  noop_lat: float) -> dict:
    proc, port = _start_sidecar(mode, noop_port, tmp)
    half = TURNS
    try:
        # Latency: the first conversations, one batch in flight. Throughput: ROUNDS rounds of
        # IN_FLIGHT groups of new conversations each, IN_FLIGHT batches in flight as a
        # collector sends them, turn-major and interleaved (g1t1, g2t1, g1t2, g2t2, ...):
        # batches in flight together are other users' conversations, as when a turn's span
        # is exported before the user's next turn. (Turns of the same conversations in flight
        # together would analyze the same history twice, which production traffic does not.)
        t0 = time.perf_counter()
        lat = asyncio.run(_send_all(port, batches[:half]))
        seq_rate = half * SPANS / (time.perf_counter() - t0)
        rates = []
        per_round = IN_FLIGHT * TURNS
        for r in range(ROUNDS):
            groups = batches[half + r * per_round:half + (r + 1) * per_round]
            interleaved = [groups[g * TURNS + t] for t in range(TURNS) for g in range(IN_FLIGHT)]
            t0 = time.perf_counter()
            asyncio.run(_send_all(port, interleaved, IN_FLIGHT))
            rates.append(len(interleaved) * SPANS / (time.perf_counter() - t0))
        workers = _children(proc.pid)
        main_mib = _vm_hwm_mib(proc.pid)
        worker_mib = sum(_vm_hwm_mib(w) for w in workers)
    finally:
        proc.terminate()
        proc.wait(60)
    added = [x - noop_lat for x in lat]
    return {"spans_s": statistics.median(rates), "rates": rates, "seq_s": seq_rate,
            "p50": _pct(added, 0.5), "p99": _pct(added, 0.99), "main_mib": main_mib,
            "worker_mib": worker_mib,
            "workers": len([w for w in workers if _vm_hwm_mib(w) > 100]), "batches": len(batches)}


def run(quick: bool = False) -> str:
    groups = 1 + IN_FLIGHT * ROUNDS
    print(f"redaction bench: building {groups * TURNS} batches of {SPANS} spans", file=sys.stderr)
    batches = _batches(groups, seed=42)
    mean_kib = statistics.mean(len(b) for b in batches) / 1024
    load_before = os.getloadavg()[0]
    noop_proc, noop_port = _start_noop()
    try:
        noop_lat = statistics.median(asyncio.run(_send_all(noop_port, batches[:3])))
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for mode in os.environ.get("BENCH_REDACTION_MODES", "ner,patterns").split(","):
                print(f"redaction bench: {mode}", file=sys.stderr, flush=True)
                results[mode] = _measure_mode(mode, batches, noop_port, Path(tmp), noop_lat)
    finally:
        noop_proc.kill()
    sample = 8 if quick else 24  # --quick: fewer naive spans only
    print(f"redaction bench: naive Presidio on {sample} spans", file=sys.stderr, flush=True)
    naive_s = _naive_seconds_per_span(batches, sample)
    naive_rate = 1 / naive_s
    load_after = os.getloadavg()[0]
    cmd = "make bench (python -m bench redaction)" + (" --quick" if quick else "")
    lines = [
        "## Redaction end to end (bench/redaction.py)",
        "",
        f"`{cmd}` on {os.cpu_count()} cores: {len(batches)} batches of {SPANS} chat spans "
        f"(5-turn conversations, history resent, ~1 KB new user text per turn, 2 KB shared "
        f"system prompt; mean batch {mean_kib:.0f} KiB), sidecar subprocess -> no-op gRPC "
        f"server; default workers (one per core). Latency: {TURNS} batches one "
        f"at a time; spans/s: median of {ROUNDS} rounds of {IN_FLIGHT * TURNS} further "
        f"batches ({IN_FLIGHT} groups of new conversations interleaved turn by turn), "
        f"{IN_FLIGHT} in flight. Host load average {load_before:.1f} before, "
        f"{load_after:.1f} after (the machine is shared).",
        "",
        "| mode | spans/s (median) | rounds | spans/s (1 in flight) | vs naive Presidio "
        "| p50 added / batch | p99 added / batch | peak RSS main | peak RSS workers (sum) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, r in results.items():
        lines.append(
            f"| {mode} | {r['spans_s']:.0f} | {' / '.join(f'{x:.0f}' for x in r['rates'])} "
            f"| {r['seq_s']:.0f} "
            f"| {r['spans_s'] / naive_rate:.1f}x "
            f"| {r['p50']:.2f} s | {r['p99']:.2f} s | {r['main_mib']:.0f} MiB "
            f"| {r['worker_mib']:.0f} MiB |")
    lines += [
        f"| naive per-span Presidio (NER, full pipeline, 1 process, {sample} spans) "
        f"| {naive_rate:.1f} | - | {naive_rate:.1f} | 1.0x | {naive_s * SPANS:.0f} s "
        f"(extrapolated) | - | - | - |",
        "",
        "Targets (issue 4): NER >= 150 spans/s and >= 10x naive; patterns >= 3,000 spans/s.",
    ]
    return "\n".join(lines) + "\n"
