"""The Helm chart: lint, render, and validate what it renders with the tools that will read it.

Every manifest is validated strictly against the Kubernetes OpenAPI schemas bundled with
kubernetes-validate (the oldest supported and the newest version); the Prometheus Operator
objects, whose CRDs are not bundled, against the subset of their CRD schema the chart uses.
The collector config is validated by the collector binary, the sidecar config by
`genai-sidecar check-config`, the price overrides by `genai-sidecar price`.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from processors.genai import routing
from tests import amtool, promtool
from tests.helm.conftest import (
    BIN,
    CHART,
    CI_VALUES,
    FULLNAME,
    NAMESPACE,
    ROOT,
    Render,
    run,
)

#: Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schema bundled.
KUBE_MIN, KUBE_MAX = "1.27.0", "1.37.0"
#: Native sidecars (restartPolicy on an init container) need 1.29.
KUBE_MIN_NATIVE = "1.29.0"

CASES = [
    pytest.param([], KUBE_MIN, id="default"),
    *(
        pytest.param(
            ["-f", str(path)],
            KUBE_MIN_NATIVE if path.name.startswith("native") else KUBE_MIN,
            id=path.name.removesuffix("-values.yaml"),
        )
        for path in sorted(CI_VALUES.glob("*-values.yaml"))
    ),
]


def values_of(args: list[str]) -> dict[str, Any]:
    return yaml.safe_load(Path(args[1]).read_text()) if args else {}


# ---------------------------------------------------------------------------------------------
# Prometheus Operator objects: the fields the chart writes, strictly (monitoring.coreos.com/v1)
# ---------------------------------------------------------------------------------------------
_META = {
    "type": "object",
    "required": ["name", "namespace"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_DURATION = {"type": "string", "pattern": "^(0|(([0-9]+)(y|w|d|h|m|s|ms))+)$"}
_RELABEL = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "action": {
            "enum": [
                "replace",
                "keep",
                "drop",
                "hashmod",
                "labelmap",
                "labeldrop",
                "labelkeep",
                "lowercase",
                "uppercase",
                "keepequal",
                "dropequal",
            ]
        },
        "sourceLabels": {"type": "array", "items": {"type": "string"}},
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "modulus": {"type": "integer"},
        "replacement": {"type": "string"},
    },
}
CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "ServiceMonitor"},
            "metadata": _META,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["selector", "endpoints"],
                "properties": {
                    "selector": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"matchLabels": {"type": "object"}},
                    },
                    "namespaceSelector": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "matchNames": {"type": "array", "items": {"type": "string"}}
                        },
                    },
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["port"],
                            "properties": {
                                "port": {"type": "string"},
                                "path": {"type": "string"},
                                "interval": _DURATION,
                                "scrapeTimeout": _DURATION,
                                "relabelings": {"type": "array", "items": _RELABEL},
                                "metricRelabelings": {"type": "array", "items": _RELABEL},
                            },
                        },
                    },
                },
            },
        },
    },
    "PrometheusRule": {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "PrometheusRule"},
            "metadata": _META,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["groups"],
                "properties": {
                    "groups": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["name", "rules"],
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "interval": _DURATION,
                                "limit": {"type": "integer"},
                                "rules": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "required": ["expr"],
                                        "oneOf": [
                                            {"required": ["alert"]},
                                            {"required": ["record"]},
                                        ],
                                        "properties": {
                                            "alert": {"type": "string"},
                                            "record": {"type": "string"},
                                            "expr": {"type": ["string", "integer"]},
                                            "for": _DURATION,
                                            "keep_firing_for": _DURATION,
                                            "labels": {
                                                "type": "object",
                                                "additionalProperties": {"type": "string"},
                                            },
                                            "annotations": {
                                                "type": "object",
                                                "additionalProperties": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def validate_manifest(doc: dict[str, Any], kube: str) -> None:
    if doc["kind"] in CRD_SCHEMAS:
        jsonschema.validate(doc, CRD_SCHEMAS[doc["kind"]])
    else:
        kubernetes_validate.validate(doc, kube, strict=True)


# ---------------------------------------------------------------------------------------------
# Lint and render
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "kube"), CASES)
def test_helm_lint_is_clean(helm: Path, args: list[str], kube: str) -> None:
    """`helm lint --strict` passes for every values combination (warnings are failures)."""
    proc = run([helm, "lint", "--strict", CHART, "--kube-version", kube, *args])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize(("args", "kube"), CASES)
def test_every_manifest_validates_strictly(render: Render, args: list[str], kube: str) -> None:
    """Each rendered object is valid for the oldest supported and the newest Kubernetes."""
    for version in (kube, KUBE_MAX):
        rendered = render(*args, kube=version)
        assert rendered.docs
        for doc in rendered.docs:
            validate_manifest(doc, version)


def test_strict_validation_rejects_an_unknown_field(render: Render) -> None:
    """The validation above is strict: a misspelt field in a container fails it."""
    rendered = render("--set-json", 'extraEnvs=[{"name":"A","valeu":"x"}]')
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_manifest(rendered.workload(), KUBE_MAX)


# ---------------------------------------------------------------------------------------------
# The configs, validated by the programs that read them
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "kube"), CASES)
def test_collector_config_validates(
    render: Render, collector: Path, tmp_path: Path, args: list[str], kube: str
) -> None:
    """The collector binary accepts the rendered config (`validate --config`)."""
    path = tmp_path / "collector.yaml"
    path.write_text(render(*args).config("collector", "config.yaml"))
    proc = run(
        [collector, "validate", f"--config={path}"],
        env={"MY_POD_IP": "10.0.0.7", "PROM_TOKEN": "t"},
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(("args", "kube"), CASES)
def test_sidecar_config_validates(
    render: Render, tmp_path: Path, args: list[str], kube: str
) -> None:
    """`genai-sidecar check-config` accepts the rendered sidecar config."""
    path = tmp_path / "sidecar.yaml"
    path.write_text(render(*args).config("sidecar", "sidecar.yaml"))
    proc = run([BIN / "genai-sidecar", "check-config", path])
    assert proc.returncode == 0, proc.stderr


def test_validators_reject_broken_configs(render: Render, collector: Path, tmp_path: Path) -> None:
    """Controls: a bad key in either config fails the corresponding validator."""
    rendered = render(
        "--set",
        "config.exporters.otlp_grpc/genai.no_such_setting=1",
        "--set",
        "sidecar.config.server.no_such_setting=1",
    )
    (tmp_path / "c.yaml").write_text(rendered.config("collector", "config.yaml"))
    (tmp_path / "s.yaml").write_text(rendered.config("sidecar", "sidecar.yaml"))
    proc = run([collector, "validate", f"--config={tmp_path / 'c.yaml'}"])
    assert proc.returncode != 0 and "no_such_setting" in proc.stderr
    proc = run([BIN / "genai-sidecar", "check-config", tmp_path / "s.yaml"])
    assert proc.returncode == 2 and "server.no_such_setting: unknown key" in proc.stderr


def test_pseudonym_operator_without_a_secret_is_rejected(render: Render, tmp_path: Path) -> None:
    """The overrides case passes check-config only because the chart wires the Secret's file."""
    # pseudonym.key_id is set so that RedactionConfig's key check runs: it is skipped when the
    # pseudonym section is absent (a field validator on a defaulted field).
    rendered = render(
        "--set",
        "sidecar.config.processors.redaction.default_operator.type=pseudonym",
        "--set",
        "sidecar.config.processors.redaction.pseudonym.key_id=k1",
    )
    (tmp_path / "s.yaml").write_text(rendered.config("sidecar", "sidecar.yaml"))
    proc = run([BIN / "genai-sidecar", "check-config", tmp_path / "s.yaml"])
    assert proc.returncode == 2 and "key_env or key_file" in proc.stderr


def test_price_overrides_price_the_model(render: Render, tmp_path: Path) -> None:
    """The rendered overrides file is mounted where the cost processor reads it and prices the
    overridden model at the values' rates."""
    args = ["-f", str(CI_VALUES / "overrides-values.yaml")]
    text = values_of(args)["sidecar"]["priceOverrides"]["overrides"]
    model = yaml.safe_load(text)["models"][0]
    rendered = render(*args)
    path = tmp_path / "overrides.yaml"
    path.write_text(rendered.config("prices", "overrides.yaml"))
    assert path.read_text().strip() == text.strip(), "a string is rendered verbatim"
    proc = run(
        [
            BIN / "genai-sidecar",
            "price",
            "--model",
            model["exact"],
            "--input-tokens",
            "2000",
            "--output-tokens",
            "1000",
            "--overrides",
            path,
        ]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = (2000 * model["input"] + 1000 * model["output"]) / 1e6
    total = next(ln for ln in proc.stdout.splitlines() if ln.startswith("total:"))
    assert float(total.split()[1]) == pytest.approx(expected)
    assert f"override:{model['name']}" in proc.stdout

    mount = rendered.containers()["genai-sidecar"]["volumeMounts"]
    prices = next(m for m in mount if m["name"] == "price-overrides")
    assert "subPath" not in prices, "a subPath mount never sees ConfigMap updates (no reload)"
    cost = rendered.sidecar_config()["processors"]["cost"]
    assert cost["overrides_file"] == f"{prices['mountPath']}/overrides.yaml"


# ---------------------------------------------------------------------------------------------
# The pod: wiring between the two containers, probes, security
# ---------------------------------------------------------------------------------------------
def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


@pytest.mark.parametrize(("args", "kube"), CASES)
def test_collector_and_sidecar_are_wired_over_loopback(
    render: Render, args: list[str], kube: str
) -> None:
    """collector -> 127.0.0.1:<sidecar listen port>; sidecar -> the otlp/enriched receiver."""
    rendered = render(*args)
    col, side = rendered.collector_config(), rendered.sidecar_config()
    to_sidecar = col["exporters"]["otlp_grpc/genai"]["endpoint"]
    assert to_sidecar == f"127.0.0.1:{_port(side['server']['listen'])}"
    enriched = col["receivers"]["otlp/enriched"]["protocols"]["grpc"]["endpoint"]
    assert enriched.startswith("127.0.0.1:"), "the return path must not leave the pod"
    assert side["exporter"]["endpoint"] == enriched
    pipelines = col["service"]["pipelines"]
    for signal in ("traces", "logs", "metrics"):
        assert pipelines[f"{signal}/out"]["receivers"] == ["otlp/enriched"]
        assert pipelines[f"{signal}/direct"]["receivers"] == ["otlp"]
        assert "otlp_grpc/genai" not in pipelines[f"{signal}/direct"]["exporters"]
    # GenAI telemetry to the sidecar, the rest straight to the backends (the same filters as
    # collector-config/*.yaml, rendered from processors/genai/routing.py).
    for signal in ("traces", "logs"):
        assert pipelines[f"{signal}/in"]["exporters"] == ["otlp_grpc/genai"]
        assert "filter/genai" in pipelines[f"{signal}/in"]["processors"]
        assert "filter/not_genai" in pipelines[f"{signal}/direct"]["processors"]
        assert (pipelines[f"{signal}/direct"]["exporters"]
                == pipelines[f"{signal}/out"]["exporters"])
    assert "metrics/in" not in pipelines
    wanted = routing.filter_processors()
    assert {k: col["processors"][k] for k in wanted} == wanted


@pytest.mark.parametrize(("args", "kube"), CASES)
def test_probes_target_the_health_endpoints(render: Render, args: list[str], kube: str) -> None:
    """Sidecar: /readyz and /healthz on its metrics port; collector: the health_check
    extension. The sidecar's OTLP port binds loopback only (issue 21): no other pod can send
    to it past the collector; the kubelet reaches the metrics port on the pod address."""
    rendered = render(*args)
    containers = rendered.containers()
    side = rendered.sidecar_config()
    metrics = _port(side["telemetry"]["metrics_listen"])
    health = _port(rendered.collector_config()["extensions"]["health_check"]["endpoint"])
    for probe, path in (("startupProbe", "/readyz"), ("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        assert containers["genai-sidecar"][probe]["httpGet"] == {"path": path, "port": metrics}
    for probe in ("livenessProbe", "readinessProbe"):
        assert containers["collector"][probe]["httpGet"] == {"path": "/", "port": health}
    assert side["server"]["listen"].startswith("127.0.0.1:")
    assert side["telemetry"]["metrics_listen"].startswith("0.0.0.0:")
    assert {p["name"] for p in containers["genai-sidecar"]["ports"]} == {"sidecar-metrics"}


@pytest.mark.parametrize(("args", "kube"), CASES)
def test_containers_are_locked_down(render: Render, args: list[str], kube: str) -> None:
    """Non-root, read-only root filesystem, no privilege escalation, every capability dropped."""
    rendered = render(*args)
    pod = rendered.pod_spec()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for name, c in rendered.containers().items():
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc["privileged"] is False, name
        assert sc["capabilities"] == {"drop": ["ALL"]}, name
        assert c["resources"]["limits"]["memory"], name


@pytest.mark.parametrize(
    ("sets", "changed"),
    [
        pytest.param(
            ["config.processors.batch.timeout=1s"],
            {"checksum/collector-config"},
            id="collector-config",
        ),
        pytest.param(["backends.loki.enabled=true"], {"checksum/collector-config"}, id="backend"),
        pytest.param(
            ["sidecar.config.server.max_in_flight_requests=8"],
            {"checksum/sidecar-config"},
            id="sidecar-config",
        ),
        pytest.param(["replicaCount=5", "podLabels.team=a"], set(), id="not-config"),
    ],
)
def test_config_changes_roll_the_pods(render: Render, sets: list[str], changed: set[str]) -> None:
    """A config change changes a checksum annotation of the pod template, nothing else does."""

    def checksums(*args: str) -> dict[str, str]:
        notes = render(*args).workload()["spec"]["template"]["metadata"]["annotations"]
        return {k: v for k, v in notes.items() if k.startswith("checksum/")}

    before = checksums()
    after = checksums(*[a for s in sets for a in ("--set", s)])
    assert set(before) == set(after) == {"checksum/collector-config", "checksum/sidecar-config"}
    assert {k for k in before if before[k] != after[k]} == changed


def test_price_override_changes_roll_the_pods_only_when_asked(render: Render) -> None:
    overrides = ["-f", str(CI_VALUES / "overrides-values.yaml")]
    rolled = render(*overrides).workload()["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/price-overrides" in rolled
    kept = render(*overrides, "--set", "sidecar.priceOverrides.rollPods=false")
    assert (
        "checksum/price-overrides"
        not in kept.workload()["spec"]["template"]["metadata"]["annotations"]
    )


def test_pseudonymization_secret_is_mounted_as_a_file(render: Render) -> None:
    rendered = render("-f", str(CI_VALUES / "overrides-values.yaml"))
    volume = next(v for v in rendered.pod_spec()["volumes"] if v["name"] == "pseudonymization-key")
    assert volume["secret"]["secretName"] == "genai-pseudonymization"
    mount = next(
        m
        for m in rendered.containers()["genai-sidecar"]["volumeMounts"]
        if m["name"] == "pseudonymization-key"
    )
    key_file = rendered.sidecar_config()["processors"]["redaction"]["pseudonym"]["key_file"]
    assert key_file == f"{mount['mountPath']}/hmac-key"
    assert mount["readOnly"] is True
    assert not any(
        e.get("valueFrom", {}).get("secretKeyRef")
        for e in rendered.containers()["genai-sidecar"].get("env", [])
    )


# ---------------------------------------------------------------------------------------------
# Modes and optional objects
# ---------------------------------------------------------------------------------------------
def test_default_is_a_deployment_with_a_pdb_and_no_optional_objects(render: Render) -> None:
    rendered = render()
    kinds = sorted(d["kind"] for d in rendered.docs)
    assert kinds == [
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    assert rendered.one("Deployment")["spec"]["replicas"] == 2
    service = rendered.one("Service")
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    assert ports["otlp"] == 4317 and ports["otlp-http"] == 4318
    assert "sidecar-otlp" not in ports, "the sidecar's OTLP port is never exposed"
    assert (
        service["spec"]["selector"] == rendered.one("Deployment")["spec"]["selector"]["matchLabels"]
    )


def test_daemonset_mode(render: Render) -> None:
    rendered = render("-f", str(CI_VALUES / "daemonset-values.yaml"))
    assert not rendered.all("Deployment") and not rendered.all("PodDisruptionBudget")
    ds = rendered.one("DaemonSet")
    ports = {p["name"]: p for p in rendered.containers()["collector"]["ports"]}
    assert ports["otlp"]["hostPort"] == 4317 and ports["otlp-http"]["hostPort"] == 4318
    assert ds["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 1}
    assert rendered.one("Service")["spec"]["internalTrafficPolicy"] == "Local"


def test_hpa_scales_the_deployment(render: Render) -> None:
    rendered = render("-f", str(CI_VALUES / "hpa-values.yaml"))
    hpa, deployment = rendered.one("HorizontalPodAutoscaler"), rendered.one("Deployment")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
        for m in hpa["spec"]["metrics"]
    }
    assert targets == {"cpu": 65, "memory": 80}
    assert rendered.one("PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "selector": deployment["spec"]["selector"],
    }


def test_custom_backend_endpoints(render: Render) -> None:
    args = ["-f", str(CI_VALUES / "endpoints-values.yaml")]
    b = values_of(args)["backends"]
    col = render(*args).collector_config()
    ex = col["exporters"]
    assert ex["otlp_grpc/jaeger"]["endpoint"] == b["jaeger"]["endpoint"]
    assert ex["otlp_grpc/tempo"] == {
        "endpoint": b["tempo"]["endpoint"],
        "tls": {"insecure": False},
        "headers": b["tempo"]["headers"],
    }
    assert ex["otlp_http/victorialogs"] == {
        "logs_endpoint": "http://victorialogs.logging.svc:9428/insert/opentelemetry/v1/logs",
        "headers": b["victorialogs"]["headers"],
    }
    assert ex["otlp_http/loki"]["endpoint"] == b["loki"]["endpoint"]
    assert ex["prometheus_remote_write"]["endpoint"] == b["prometheus"]["remoteWriteEndpoint"]
    assert "prometheus" not in ex and "debug" not in ex
    out = {k: v["exporters"] for k, v in col["service"]["pipelines"].items() if "/out" in k}
    assert out == {
        "traces/out": ["otlp_grpc/jaeger", "otlp_grpc/tempo"],
        "logs/out": ["otlp_http/victorialogs", "otlp_http/loki"],
        "metrics/out": ["prometheus_remote_write"],
    }
    assert col["processors"]["batch"]["timeout"] == "1s", "values.config is merged over"


def test_service_monitor_scrapes_named_service_ports(render: Render) -> None:
    rendered = render("-f", str(CI_VALUES / "monitoring-values.yaml"))
    monitor = rendered.one("ServiceMonitor")
    service_ports = {p["name"] for p in rendered.one("Service")["spec"]["ports"]}
    scraped = [e["port"] for e in monitor["spec"]["endpoints"]]
    assert scraped == ["metrics", "sidecar-metrics", "prom-exporter"]
    assert set(scraped) <= service_ports
    assert monitor["spec"]["selector"]["matchLabels"] == rendered.one("Service")["spec"]["selector"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # The ports scraped are the ones the configs listen on.
    col, side = rendered.collector_config(), rendered.sidecar_config()
    container_ports = {
        p["name"]: p["containerPort"] for c in rendered.containers().values() for p in c["ports"]
    }
    assert container_ports["sidecar-metrics"] == _port(side["telemetry"]["metrics_listen"])
    assert container_ports["prom-exporter"] == _port(col["exporters"]["prometheus"]["endpoint"])
    reader = col["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]
    assert container_ports["metrics"] == reader["prometheus"]["port"]


def test_collector_drops_credential_headers_as_the_local_configs_do(render: Render) -> None:
    """The chart's transform/credentials is collector-config/stack.yaml's, and the traces and
    logs pipelines run it right after the memory limiter (metrics carry no headers)."""
    col = render().collector_config()
    stack = yaml.safe_load((ROOT / "collector-config/stack.yaml").read_text())
    assert col["processors"]["transform/credentials"] == (
        stack["processors"]["transform/credentials"])
    for name in ("traces/in", "logs/in"):
        assert col["service"]["pipelines"][name]["processors"] == [
            "memory_limiter", "transform/credentials", "filter/genai", "batch"]
    for name in ("traces/direct", "logs/direct"):
        assert col["service"]["pipelines"][name]["processors"] == [
            "memory_limiter", "transform/credentials", "filter/not_genai", "batch"]


def test_network_policy_is_on_by_default_and_keeps_the_sidecar_ports_closed(
        render: Render) -> None:
    """Closed by default: the default render ships the policy, and neither the sidecar's OTLP
    port nor the collector's return port is admitted."""
    rendered = render()
    policy = rendered.one("NetworkPolicy")
    admitted = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["networkPolicy"]["enabled"] is True
    assert values["sidecar"]["ports"]["otlp"] not in admitted
    assert values["sidecar"]["returnPort"] not in admitted
    assert {4317, 4318} <= admitted
    assert policy["spec"]["podSelector"]["matchLabels"] == (
        rendered.workload()["spec"]["selector"]["matchLabels"])


def test_network_policy_admits_only_the_public_ports(render: Render) -> None:
    rendered = render("-f", str(CI_VALUES / "native-sidecar-values.yaml"), kube=KUBE_MIN_NATIVE)
    policy = rendered.one("NetworkPolicy")
    admitted = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert admitted == {4317, 4318, 8888, 14319}
    assert 14317 not in admitted and 14318 not in admitted
    sidecar = rendered.pod_spec()["initContainers"][0]
    assert sidecar["name"] == "genai-sidecar" and sidecar["restartPolicy"] == "Always"


# ---------------------------------------------------------------------------------------------
# One source of truth: alert rules, dashboards and the sidecar default live in the repository
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("link", "source"),
    [
        pytest.param("files/alerts", "collector-config/alerts", id="alerts"),
        pytest.param("files/dashboards", "collector-config/dashboards", id="dashboards"),
        pytest.param("files/alertmanager", "collector-config/alertmanager", id="alertmanager"),
        pytest.param("files/sidecar-default.yaml", "sidecar/default.yaml", id="sidecar-default"),
    ],
)
def test_chart_files_link_to_the_sources(link: str, source: str) -> None:
    """The chart reads these through symlinks (helm follows them; `helm package` copies)."""
    path = CHART / link
    assert path.is_symlink(), f"{link} must be a symlink to {source}, not a copy"
    assert path.resolve() == (ROOT / source).resolve()


def test_packaged_chart_holds_the_source_files(helm: Path, tmp_path: Path) -> None:
    proc = run([helm, "package", CHART, "--destination", tmp_path])
    assert proc.returncode == 0, proc.stderr
    (archive,) = tmp_path.glob("genai-sidecar-*.tgz")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        packed = {
            n.removeprefix("genai-sidecar/"): tar.extractfile(n).read()
            for n in names
            if "/files/" in n
        }
    expected = (
        {f"files/alerts/{p.name}": p for p in (ROOT / "collector-config/alerts").glob("*.yaml")}
        | {
            f"files/dashboards/{p.name}": p
            for p in (ROOT / "collector-config/dashboards").glob("*.json")
        }
        | {"files/alertmanager/alertmanager.yaml":
           ROOT / "collector-config/alertmanager/alertmanager.yaml"}
        | {"files/sidecar-default.yaml": ROOT / "sidecar/default.yaml"}
        | {"files/genai-routing.yaml": ROOT / "collector-config/genai-routing.yaml"}
    )
    assert set(packed) == set(expected), ".helmignore keeps tests and generators out"
    for name, path in expected.items():
        assert packed[name] == path.read_bytes(), name
    assert not any(n.startswith("genai-sidecar/ci/") for n in names)


def test_prometheus_rule_is_the_rule_file_with_budgets_from_values(render: Render) -> None:
    args = ["-f", str(CI_VALUES / "monitoring-values.yaml")]
    values = values_of(args)["prometheusRule"]
    rule = render(*args).one("PrometheusRule")
    source = yaml.safe_load((ROOT / "collector-config/alerts/genai-sidecar.rules.yaml").read_text())
    budgets = {
        "genai:budget_daily_usd": values["budgets"]["dailyUsd"],
        "genai:budget_monthly_usd": values["budgets"]["monthlyUsd"],
    }
    for group in source["groups"]:
        for r in group["rules"]:
            r.setdefault("labels", {}).update(values["additionalRuleLabels"])
            if r.get("record") in budgets:
                r["expr"] = f"vector({budgets[r['record']]})"
    assert rule["spec"]["groups"] == source["groups"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_prometheus_rule_passes_promtool(render: Render, tmp_path: Path) -> None:
    """The rendered groups are a valid Prometheus rule file (make helm-test installs promtool
    first; a missing promtool fails the test)."""
    spec = render("-f", str(CI_VALUES / "monitoring-values.yaml")).one("PrometheusRule")["spec"]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(spec))
    proc = promtool.run("check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _alertmanager_config(rendered: Any, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    secret = rendered.one("Secret", f"{FULLNAME}-alertmanager")
    text = secret["stringData"]["alertmanager.yaml"]
    path = tmp_path / "alertmanager.yaml"
    path.write_text(text, "utf-8")
    return yaml.safe_load(text), path


def test_alertmanager_secret_is_the_routing_tree_with_your_receivers(
        render: Render, tmp_path: Path) -> None:
    """amtool accepts the rendered config; the routes are the repository file's (its
    ${VAR:-default} references at their defaults); the receivers are the values'."""
    args = ["-f", str(CI_VALUES / "monitoring-values.yaml")]
    values = values_of(args)["alertmanagerConfig"]
    doc, path = _alertmanager_config(render(*args), tmp_path)
    amtool.check_config(path)
    source = yaml.safe_load(_at_defaults(amtool.CONFIG.read_text("utf-8")))
    assert doc["route"] == {**source["route"], **values["route"]}
    assert doc["inhibit_rules"] == source["inhibit_rules"]
    assert doc["global"] == values["global"]
    assert {r.pop("name"): r for r in doc["receivers"]} == values["receivers"]
    for labels in amtool.alert_labels():
        assert amtool.route_of(path, labels) == amtool.expected_receiver(labels), labels


def _at_defaults(text: str) -> str:
    """The text with every ${VAR:-default} at its default (as the chart renders the file)."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", text)


def test_alertmanager_secret_needs_every_receiver(render_error) -> None:
    """Enabled without a receiver's notifiers, the chart refuses to render, naming the value."""
    err = render_error("--set", "alertmanagerConfig.enabled=true",
                       "--set-json", 'alertmanagerConfig.receivers.pager={"webhook_configs":'
                       '[{"url":"http://pager.example/hook"}]}')
    assert "alertmanagerConfig.receivers.ops: set its notifiers" in err, err


def test_no_alertmanager_secret_by_default(render: Render) -> None:
    names = [s["metadata"]["name"] for s in render().all("Secret")]
    assert not [n for n in names if n.endswith("-alertmanager")], names


def test_dashboards_are_labelled_config_maps_of_the_json_files(render: Render) -> None:
    rendered = render("-f", str(CI_VALUES / "monitoring-values.yaml"))
    maps = [m for m in rendered.all("ConfigMap") if "-dashboard-" in m["metadata"]["name"]]
    sources = sorted((ROOT / "collector-config/dashboards").glob("*.json"))
    assert len(maps) == len(sources) > 0
    for cm, src in zip(sorted(maps, key=lambda m: next(iter(m["data"]))), sources, strict=True):
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["annotations"] == {"grafana_folder": "GenAI"}
        assert cm["metadata"]["namespace"] == NAMESPACE
        assert cm["data"] == {src.name: src.read_text().rstrip("\n")}
        json.loads(cm["data"][src.name])


# ---------------------------------------------------------------------------------------------
# Values that cannot work are refused
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--set", "mode=statefulset"], "value must be one of", id="unknown-mode"),
        pytest.param(
            ["--set", "sidecar.colour=blue"], "additional properties 'colour'", id="unknown-key"
        ),
        pytest.param(
            ["--set", "mode=daemonset", "--set", "autoscaling.enabled=true"],
            "autoscaling.enabled needs mode: deployment",
            id="daemonset-hpa",
        ),
        pytest.param(
            ["--set", "ports.metrics.containerPort=14317"],
            "collides with a sidecar",
            id="port-collision",
        ),
        pytest.param(["--set", "resources.limits.memory=1Ti"], "GOMEMLIMIT", id="memory-unit"),
        pytest.param(
            ["--set", "serviceMonitor.enabled=true", "--set", "service.enabled=false"],
            "serviceMonitor.enabled needs service.enabled",
            id="monitor-no-service",
        ),
        pytest.param(
            ["--set", "sidecar.native=true", "--kube-version", "1.28.0"],
            "sidecar.native needs Kubernetes 1.29",
            id="native-on-1.28",
        ),
        pytest.param(
            ["--set", "backends.loki.endpoint=loki:3100"],
            "/backends/loki/endpoint",
            id="loki-not-a-url",
        ),
    ],
)
def test_invalid_values_are_refused(render_error, args: list[str], message: str) -> None:
    assert message in render_error(*args)


def test_notes_name_the_endpoints(helm: Path) -> None:
    proc = run(
        [
            helm,
            "install",
            "genai",
            CHART,
            "--dry-run=client",
            "--namespace",
            NAMESPACE,
            "-f",
            str(CI_VALUES / "endpoints-values.yaml"),
        ]
    )
    assert proc.returncode == 0, proc.stderr
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert f"{FULLNAME}.{NAMESPACE}.svc:4317" in notes
    assert "Jaeger jaeger-collector.tracing.svc:4317" in notes
    assert "remote write to http://prometheus.monitoring.svc:9090/api/v1/write" in notes


# ---------------------------------------------------------------------------------------------
# The values snippet for users of the upstream opentelemetry-collector chart
# ---------------------------------------------------------------------------------------------
UPSTREAM_SNIPPET = CHART / "examples" / "upstream-chart-values.yaml"

#: What the upstream chart's own default config supplies under the snippet (the snippet's
#: pipelines name these components; its lists replace the chart's).
UPSTREAM_BASE = {
    "extensions": {"health_check": {"endpoint": "${env:MY_POD_IP}:13133"}},
    "receivers": {
        "otlp": {
            "protocols": {
                "grpc": {"endpoint": "${env:MY_POD_IP}:4317"},
                "http": {"endpoint": "${env:MY_POD_IP}:4318"},
            }
        }
    },
    "processors": {"batch": {}, "memory_limiter": {"check_interval": "5s", "limit_percentage": 80}},
    "service": {"extensions": ["health_check"]},
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def test_upstream_snippet_collector_config_validates(collector: Path, tmp_path: Path) -> None:
    snippet = yaml.safe_load(UPSTREAM_SNIPPET.read_text())
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_merge(UPSTREAM_BASE, snippet["config"])))
    proc = run([collector, "validate", f"--config={path}"], env={"MY_POD_IP": "10.0.0.7"})
    assert proc.returncode == 0, proc.stderr


def test_upstream_snippet_sidecar_container_is_valid() -> None:
    """The extra container and volume form a valid pod; its flags match the collector config."""
    snippet = yaml.safe_load(UPSTREAM_SNIPPET.read_text())
    (container,) = snippet["extraContainers"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "collector"},
        "spec": {"containers": [container], "volumes": snippet["extraVolumes"]},
    }
    for version in (KUBE_MIN, KUBE_MAX):
        kubernetes_validate.validate(pod, version, strict=True)
    flags = dict(a.removeprefix("--").split("=", 1) for a in container["args"][1:])
    config = snippet["config"]
    assert config["exporters"]["otlp_grpc/genai"]["endpoint"] == (
        f"127.0.0.1:{_port(flags['listen'])}"
    )
    assert (
        flags["downstream"] == config["receivers"]["otlp/enriched"]["protocols"]["grpc"]["endpoint"]
    )
    assert flags["listen"].startswith("127.0.0.1:")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == _port(flags["metrics-listen"])
    proc = run([BIN / "genai-sidecar", "run", "--help"])
    for flag in flags:
        assert f"--{flag}" in proc.stdout


@pytest.mark.parametrize(
    ("limit", "limit_bytes"),
    [
        pytest.param("1Gi", 2**30, id="Gi"),
        pytest.param("1536Mi", 1536 * 2**20, id="Mi"),
        pytest.param("2G", 2 * 10**9, id="G"),
        pytest.param("900M", 900 * 10**6, id="M"),
    ],
)
def test_gomemlimit_is_80_percent_of_the_memory_limit(
    render: Render, limit: str, limit_bytes: int
) -> None:
    env = render("--set", f"resources.limits.memory={limit}").containers()["collector"]["env"]
    (value,) = [e["value"] for e in env if e["name"] == "GOMEMLIMIT"]
    assert value == f"{int(limit_bytes * 0.8 / 2**20)}MiB"


def test_redaction_workers_are_bounded(render: Render) -> None:
    """The pod sets workers.count (the processor's default counts the node's cores)."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())["sidecar"]
    workers = render().sidecar_config()["processors"]["redaction"]["workers"]
    assert workers == {"count": values["redactionWorkers"]}
    own = render("--set", "sidecar.config.processors.redaction.workers.count=6")
    assert own.sidecar_config()["processors"]["redaction"]["workers"] == {"count": 6}


#: Values whose content is free-form (Kubernetes objects, configs, label maps): documented as a
#: whole, not key by key.
FREE_FORM = {
    "config",
    "resources",
    "securityContext",
    "podSecurityContext",
    "rollingUpdate",
    "behavior",
    "headers",
    "overrides",
    "extraLabels",
    "annotations",
}


def _value_paths(node: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in FREE_FORM:
            paths += _value_paths(value, f"{path}.")
        else:
            paths.append(path)
    return paths


def _documented() -> set[str]:
    """Keys named in the first column of the chart README's values table: `a.b.c` / `d` means
    a.b.c and a.b.d; `<name>` matches any key."""
    documented = set()
    for line in (CHART / "README.md").read_text().splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split("|")[1]
        names = [n.strip().strip("`") for n in first.split(" / ")]
        head = names[0]
        documented.add(head)
        for name in names[1:]:
            documented.add(
                name if "." in name else f"{head.rsplit('.', 1)[0]}.{name}" if "." in head else name
            )
    return documented


def test_readme_documents_every_value() -> None:
    documented = _documented()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = []
    for path in _value_paths(values):
        parts = path.split(".")
        candidates = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        candidates |= {".".join([*parts[:i], "<name>"]) for i in range(len(parts))}
        if not candidates & documented:
            missing.append(path)
    assert not missing, f"values not in helm/genai-sidecar/README.md: {missing}"

    def exists(path: str) -> bool:
        node: Any = values
        for part in path.split("."):
            if part == "<name>" and isinstance(node, dict):
                return True
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    stale = sorted(p for p in documented if not exists(p))
    assert not stale, f"README documents values that do not exist: {stale}"


def test_rendered_sidecar_answers_its_probes_offline(render: Render, tmp_path: Path) -> None:
    """The rendered sidecar config starts without a network and answers the kubelet's gRPC
    probe and Prometheus on the ports the pod spec names. Runs in a network namespace of its
    own, so the chart's fixed ports cannot collide with anything."""
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("ip") is None or run([unshare, "--net", "true"]).returncode:
        pytest.skip("needs unshare --net and ip (root or user namespaces)")
    rendered = render()
    config = tmp_path / "sidecar.yaml"
    config.write_text(rendered.config("sidecar", "sidecar.yaml"))
    sidecar = rendered.containers()["genai-sidecar"]
    grpc_port = _port(yaml.safe_load(config.read_text())["server"]["listen"])
    metrics_port = next(
        p["containerPort"] for p in sidecar["ports"] if p["name"] == "sidecar-metrics"
    )
    assert sidecar["readinessProbe"]["httpGet"]["port"] == metrics_port
    proc = run(
        [
            unshare,
            "--net",
            sys.executable,
            "-m",
            "tests.helm.probe_driver",
            BIN / "genai-sidecar",
            config,
            str(grpc_port),
            str(metrics_port),
        ],
        cwd=ROOT,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "listening on port" in result["ready_line"], result
    assert result["health"] == "SERVING" and result["metrics"] is True, result
    assert result["readyz"] == 200 and result["healthz"] == 200, result
    assert result["exit"] == 0, result


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="default"),
        pytest.param(["-f", str(CI_VALUES / "native-sidecar-values.yaml")], id="native-sidecar"),
    ],
)
def test_rendered_pod_prices_and_redacts_end_to_end(
    render: Render, collector: Path, tmp_path: Path, args: list[str]
) -> None:
    """The pod in a box: the real collector and sidecar with the rendered configs (pod IP
    127.0.0.1, in a network namespace of its own, so the fixed ports cannot collide). A span
    sent to the Service's OTLP/HTTP port comes back from the sidecar priced and redacted."""
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("ip") is None or run([unshare, "--net", "true"]).returncode:
        pytest.skip("needs unshare --net and ip (root or user namespaces)")
    rendered = render(
        *args,
        "--set",
        "backends.debugVerbosity=detailed",
        "--set",
        "sendingQueue.persistence.enabled=false",  # no /var/lib/otelcol here
        "--set",
        "backends.prometheus.mode=none",
    )
    (tmp_path / "c.yaml").write_text(rendered.config("collector", "config.yaml"))
    (tmp_path / "s.yaml").write_text(rendered.config("sidecar", "sidecar.yaml"))
    http_port = yaml.safe_load((tmp_path / "c.yaml").read_text())["receivers"]["otlp"]["protocols"][
        "http"
    ]["endpoint"].rsplit(":", 1)[1]
    proc = run(
        [
            unshare,
            "--net",
            sys.executable,
            "-m",
            "tests.helm.pod_driver",
            collector,
            tmp_path / "c.yaml",
            BIN / "genai-sidecar",
            tmp_path / "s.yaml",
            http_port,
        ],
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["sidecar_ready"] and result["collector_ready"], result
    assert result["http_status"] == 200 and result["exported"], result
    lines = result["span"]
    cost = next(ln for ln in lines if ln.startswith("-> gen_ai.usage.cost.amount:"))
    assert float(cost.split("Double(")[1].rstrip(")")) > 0
    messages = next(ln for ln in lines if ln.startswith("-> gen_ai.input.messages:"))
    assert "<EMAIL_ADDRESS>" in messages
    assert not result["raw_email_seen"]
