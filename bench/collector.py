"""Redaction against the collector's own redaction processor, on the same input, same run.

The peer a platform team already has is the contrib ``redaction`` processor: regular
expressions over attribute values, no entity types, no NER. This benchmark sends the same
512-span chat batches (bench/redaction.py's workload: 5-turn conversations, history resent,
PII in every user turn) through:

* the collector, pass-through (otlp receiver -> otlp_grpc exporter);
* the collector with its redaction processor (``allow_all_keys``, blocked values for e-mail,
  card, US SSN and phone numbers: what users configure for PII);
* the sidecar with the redaction processor in patterns mode (Presidio's pattern recognizers
  plus ours, entity types, summary attributes, fail-closed);

each exporting to the same no-op gRPC server, each batch sent once (no warm cache helps the
sidecar), 2 requests in flight. The machine has 2 cores; every server may use both.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.redaction import _batches, _send_all, _start_noop, _start_sidecar
from tests.harness import free_port

SPANS = 512

_COLLECTOR = """
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{port}", max_recv_msg_size_mib: 256}}
processors:
  redaction:
    allow_all_keys: true
    blocked_values:
      - "[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\\\.[a-zA-Z]{{2,}}"
      - "\\\\b(?:\\\\d[ -]?){{13,16}}\\\\b"
      - "\\\\b\\\\d{{3}}-\\\\d{{2}}-\\\\d{{4}}\\\\b"
      - "\\\\+?\\\\(?\\\\d{{3}}\\\\)?[-. ]?\\\\d{{3}}[-. ]?\\\\d{{4}}"
    summary: info
exporters:
  otlp_grpc:
    endpoint: "127.0.0.1:{downstream}"
    tls: {{insecure: true}}
    timeout: 60s
    sending_queue: {{enabled: false}}
    retry_on_failure: {{enabled: false}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{level: none}}, logs: {{level: warn}}}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [{processors}]
      exporters: [otlp_grpc]
"""


def _start_collector(redact: bool, downstream: int, tmp: Path) -> tuple[subprocess.Popen, int]:
    binary = os.environ.get("OTELCOL_BIN")
    if not binary:
        raise RuntimeError("OTELCOL_BIN is not set (make bench passes it)")
    port, health = free_port(), free_port()
    cfg = tmp / f"collector-{'redaction' if redact else 'passthrough'}.yaml"
    cfg.write_text(_COLLECTOR.format(port=port, health=health, downstream=downstream,
                                     processors="redaction" if redact else ""))
    proc = subprocess.Popen([binary, "--config", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # readiness: the health_check extension answers 200
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited: {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health}/", timeout=1) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("collector not ready in 60 s")


def _spans_per_s(port: int, batches: list[bytes]) -> float:
    t0 = time.perf_counter()
    asyncio.run(_send_all(port, batches, in_flight=2))
    return len(batches) * SPANS / (time.perf_counter() - t0)


def run(quick: bool = False) -> str:
    """Measure and return the Markdown section for docs/PERFORMANCE.md."""
    rounds = 1 if quick else 3
    batches = _batches(1, seed=11)  # 5 batches of 512 spans, each sent once per server
    noop, noop_port = _start_noop()
    results: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            for r in range(rounds):
                for name, start in (
                    ("collector, pass-through", lambda: _start_collector(False, noop_port, tmp)),
                    ("collector, redaction processor (regex)",
                     lambda: _start_collector(True, noop_port, tmp)),
                    ("sidecar, redaction patterns mode", lambda: _start_sidecar(
                        "patterns", noop_port, tmp)),
                ):
                    print(f"  round {r + 1}/{rounds}: {name}", file=sys.stderr, flush=True)
                    proc, port = start()  # a fresh process each round: cold caches
                    try:
                        results.setdefault(name, []).append(_spans_per_s(port, batches))
                    finally:
                        proc.terminate()
                        proc.wait(30)
    finally:
        noop.terminate()
        noop.join(10)
    base = statistics.median(results["collector, pass-through"])
    rows = [f"| {name} | {statistics.median(v):,.0f} | {statistics.median(v) / base:.3f} |"
            for name, v in results.items()]
    size = statistics.mean(len(b) for b in batches) / 1024
    return (
        "## Redaction vs the collector's redaction processor\n\n"
        f"`make bench` (`python -m bench collector`), {time.strftime('%Y-%m-%d')}: "
        f"{len(batches)} batches of {SPANS} chat spans (bench/redaction.py's workload, mean "
        f"{size:,.0f} KiB per batch), each sent once to a fresh server process, 2 in flight, "
        f"median of {rounds} rounds; every server exports to the same no-op gRPC server.\n\n"
        "| server | spans/s (median) | ratio to collector pass-through |\n|---|---|---|\n"
        + "\n".join(rows) + "\n\n"
        "The collector's processor only masks what four regular expressions match (no names, "
        "no addresses, no secrets, no entity types, no fail-closed); the sidecar's patterns "
        "mode runs Presidio's recognizers and ours with validation (Luhn, IBAN, ...), entity "
        "types and summary attributes. NER mode: bench/redaction.py.\n"
    )
