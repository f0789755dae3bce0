"""Runs the chart's pod in a box, inside a private network namespace (`unshare --net`): the
collector and the sidecar with the configs the chart rendered, the pod IP being 127.0.0.1.
Sends one LLM span with an e-mail address in its prompt to the collector's OTLP/HTTP port and
waits for the debug exporter (verbosity detailed) to print it after the sidecar's round trip.

Usage: python -m tests.helm.pod_driver COLLECTOR COLLECTOR_CONFIG SIDECAR SIDECAR_CONFIG HTTP_PORT
Prints one JSON line: {"span": "<the debug exporter's lines for the span>", ...}.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import urllib.request

from sidecar import semconv

TIMEOUT = 120.0
EMAIL = "jane.doe@example.com"


def _lines(stream, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)
    into.put("")


def _wait_for(lines: queue.Queue[str], needles: set[str], seen: list[str]) -> bool:
    """Read lines until each needle has appeared in one (False on timeout or end of output)."""
    missing = set(needles)
    while missing:
        try:
            line = lines.get(timeout=TIMEOUT)
        except queue.Empty:
            return False
        if not line:
            return False
        seen.append(line)
        missing = {n for n in missing if n not in line}
    return True


def span_request() -> bytes:
    attributes = {
        semconv.GENAI_PROVIDER_NAME: "openai",
        semconv.GENAI_OPERATION_NAME: "chat",
        semconv.GENAI_REQUEST_MODEL: "gpt-4o",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 100,
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": f"Mail {EMAIL} now"}]}]
        ),
    }

    def value(v: object) -> dict[str, object]:
        return {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}

    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()],
    }
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "chart-test"}}]
                },
                "scopeSpans": [{"scope": {"name": "test"}, "spans": [span]}],
            }
        ]
    }
    return json.dumps(body).encode()


def main(
    collector: str, collector_config: str, sidecar: str, sidecar_config: str, http_port: int
) -> dict[str, object]:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    env = {"MY_POD_IP": "127.0.0.1", "PATH": "/usr/bin:/bin"}
    col = subprocess.Popen(
        [collector, f"--config={collector_config}"], env=env, stderr=subprocess.PIPE, text=True
    )
    side = subprocess.Popen(
        [sidecar, "run", f"--config={sidecar_config}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    col_lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(col.stderr, col_lines), daemon=True).start()
    result: dict[str, object] = {}
    seen: list[str] = []
    try:
        assert side.stdout is not None
        result["sidecar_ready"] = "listening on port" in side.stdout.readline()
        result["collector_ready"] = _wait_for(col_lines, {"Everything is ready"}, seen)
        if result["sidecar_ready"] and result["collector_ready"]:
            request = urllib.request.Request(
                f"http://127.0.0.1:{http_port}/v1/traces",
                data=span_request(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as reply:
                result["http_status"] = reply.status
            start = len(seen)
            # The debug exporter prints the span (one attribute a line) once it has come back
            # from the sidecar.
            needles = {f"{semconv.COST_AMOUNT}:", "gen_ai.input.messages:"}
            result["exported"] = _wait_for(col_lines, needles, seen)
            result["span"] = [ln.strip() for ln in seen[start:] if "->" in ln]
    finally:
        for proc in (col, side):
            proc.send_signal(signal.SIGTERM)
        for proc in (col, side):
            proc.wait(timeout=60)
    result["raw_email_seen"] = any(EMAIL in line for line in seen)
    return result


if __name__ == "__main__":
    c, cc, s, sc, port = sys.argv[1:6]
    print(json.dumps(main(c, cc, s, sc, int(port))))
