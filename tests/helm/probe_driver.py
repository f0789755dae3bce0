"""Runs inside a private network namespace (`unshare --net`): starts the sidecar with a config,
then asks the kubelet's questions on the ports given: gRPC health, GET /metrics, /readyz,
/healthz.

Usage: python -m tests.helm.probe_driver SIDECAR CONFIG GRPC_PORT METRICS_PORT
Prints one JSON line: {"health": "SERVING", "metrics": true, "exit": 0}.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main(sidecar: str, config: str, grpc_port: int, metrics_port: int) -> dict[str, object]:
    # A new network namespace has its loopback down.
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    proc = subprocess.Popen(
        [sidecar, "run", f"--config={config}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the readiness line, or "" if it exited
    result: dict[str, object] = {"ready_line": line.strip()}
    if line:
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=10
            )
        result["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
            result["metrics"] = b"genai_sidecar_" in r.read()
        for path in ("readyz", "healthz"):
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/{path}",
                                        timeout=10) as r:
                result[path] = r.status
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    result["exit"] = proc.returncode
    result["stderr_tail"] = err.splitlines()[-3:]
    return result


if __name__ == "__main__":
    sidecar, config, grpc_port, metrics_port = sys.argv[1:5]
    print(json.dumps(main(sidecar, config, int(grpc_port), int(metrics_port))))
