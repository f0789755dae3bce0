"""Every collector config we ship is accepted by the real collector (`validate --config`)."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.harness import ROOT, collector_bin

pytestmark = pytest.mark.integration

STACK = ROOT / "collector-config" / "stack.yaml"
#: Each config as tools/stack.sh passes it: a base file, then the overlays merged over it.
CONFIGS = [
    pytest.param([ROOT / "collector-config" / "local.yaml"], id="local"),
    pytest.param([STACK], id="stack"),
    # With Tempo / Loki binaries of the user's own (TEMPO_BIN, LOKI_BIN).
    pytest.param([STACK, STACK.with_name("stack-tempo.yaml")], id="stack+tempo"),
    pytest.param([STACK, STACK.with_name("stack-loki.yaml")], id="stack+loki"),
    pytest.param([STACK, STACK.with_name("stack-tempo.yaml"), STACK.with_name("stack-loki.yaml")],
                 id="stack+tempo+loki"),
    pytest.param([ROOT / "tests" / "integration" / "collector.yaml"], id="integration"),
]

# Addresses for the configs whose endpoints come from the environment without defaults.
ENV = {
    "COLLECTOR_HEALTH_ENDPOINT": "127.0.0.1:1",
    "COLLECTOR_STORAGE_DIR": "/tmp",
    "COLLECTOR_OTLP_GRPC_ENDPOINT": "127.0.0.1:2",
    "COLLECTOR_ENRICHED_ENDPOINT": "127.0.0.1:3",
    "SIDECAR_ENDPOINT": "127.0.0.1:4",
    "SINK_ENDPOINT": "127.0.0.1:5",
}


@pytest.mark.parametrize("configs", CONFIGS)
def test_collector_accepts_config(configs):
    env = {**os.environ, **ENV}
    args = [arg for path in configs for arg in ("--config", str(path))]
    result = subprocess.run([collector_bin(), "validate", *args],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_overlays_add_their_exporter_to_the_pipeline():
    """The merged config of stack.yaml + both overlays sends to every backend (lists replace)."""
    args = ["--config", str(STACK), "--config", str(STACK.with_name("stack-tempo.yaml")),
            "--config", str(STACK.with_name("stack-loki.yaml"))]
    result = subprocess.run([collector_bin(), "print-config", "--mode", "unredacted", *args],
                            capture_output=True, text=True, env={**os.environ, **ENV},
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    pipelines = yaml.safe_load(result.stdout)["service"]["pipelines"]
    assert pipelines["traces/out"]["exporters"] == ["otlp_grpc/jaeger", "otlp_grpc/tempo"]
    assert pipelines["logs/out"]["exporters"] == ["otlp_http/victorialogs", "otlp_http/loki"]


def test_a_broken_config_is_refused():
    result = subprocess.run(
        [collector_bin(), "validate", "--config",
         "yaml:receivers::otlp::protocols::grpc::endpoint: 1:2"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
