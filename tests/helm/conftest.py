"""Fixtures of the chart tests: the helm CLI, the collector binary and a renderer.

`make helm-test` (and so `make test`) builds helm and the collector and passes their paths in
HELM and OTELCOL_BIN; run alone, the tests are skipped with a message saying so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "genai-sidecar"
CI_VALUES = CHART / "ci"
BIN = Path(sys.executable).parent
RELEASE = "genai"
NAMESPACE = "observability"
FULLNAME = f"{RELEASE}-genai-sidecar"


def _tool(env: str, what: str) -> Path:
    value = os.environ.get(env)
    if not value:
        pytest.skip(f"{env} is not set: `make helm-test` builds {what} and sets it")
    path = Path(value)
    assert path.is_file() and os.access(path, os.X_OK), f"{env}={value} is not an executable"
    return path


@pytest.fixture(scope="session")
def helm() -> Path:
    return _tool("HELM", "helm")


@pytest.fixture(scope="session")
def collector() -> Path:
    return _tool("OTELCOL_BIN", "the collector")


@dataclass(frozen=True)
class Rendered:
    """The manifests of one `helm template` run."""

    docs: list[dict[str, Any]]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [d for d in self.all(kind) if name is None or d["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
        return found[0]

    def workload(self) -> dict[str, Any]:
        found = self.all("Deployment") + self.all("DaemonSet")
        assert len(found) == 1, f"expected one Deployment or DaemonSet, got {len(found)}"
        return found[0]

    def config(self, suffix: str, key: str) -> str:
        return self.one("ConfigMap", f"{FULLNAME}-{suffix}")["data"][key]

    def collector_config(self) -> dict[str, Any]:
        return yaml.safe_load(self.config("collector", "config.yaml"))

    def sidecar_config(self) -> dict[str, Any]:
        return yaml.safe_load(self.config("sidecar", "sidecar.yaml"))

    def pod_spec(self) -> dict[str, Any]:
        return self.workload()["spec"]["template"]["spec"]

    def containers(self) -> dict[str, dict[str, Any]]:
        spec = self.pod_spec()
        return {c["name"]: c for c in spec.get("initContainers", []) + spec["containers"]}


def run(cmd: Sequence[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)


Render = Callable[..., Rendered]


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    """``render(*helm_args, kube="1.37.0")`` runs `helm template` and parses the output."""

    def _render(*args: str, kube: str = "1.37.0") -> Rendered:
        proc = run(
            [
                helm,
                "template",
                RELEASE,
                CHART,
                "--namespace",
                NAMESPACE,
                "--kube-version",
                kube,
                *args,
            ]
        )
        assert proc.returncode == 0, proc.stderr
        return Rendered([d for d in yaml.safe_load_all(proc.stdout) if d])

    return _render


@pytest.fixture(scope="session")
def render_error(helm: Path) -> Callable[..., str]:
    """``render_error(*helm_args)``: `helm template` must fail; returns its stderr."""

    def _render_error(*args: str) -> str:
        kube = [] if "--kube-version" in args else ["--kube-version", "1.37.0"]
        proc = run([helm, "template", RELEASE, CHART, *kube, *args])
        assert proc.returncode != 0, "helm template succeeded where it should fail"
        return proc.stderr

    return _render_error
