"""Every collector config we ship is accepted by the real collector (`validate --config`)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.harness import ROOT, collector_bin

pytestmark = pytest.mark.integration

CONFIGS = [
    pytest.param(ROOT / "collector-config" / "local.yaml", id="local"),
    pytest.param(ROOT / "collector-config" / "stack.yaml", id="stack"),
    pytest.param(ROOT / "tests" / "integration" / "collector.yaml", id="integration"),
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


@pytest.mark.parametrize("config", CONFIGS)
def test_collector_accepts_config(config):
    env = {**os.environ, **ENV}
    result = subprocess.run([collector_bin(), "validate", "--config", str(config)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_broken_config_is_refused():
    result = subprocess.run(
        [collector_bin(), "validate", "--config",
         "yaml:receivers::otlp::protocols::grpc::endpoint: 1:2"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
