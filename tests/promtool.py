"""promtool from tests: find it (fail loudly when missing), check PromQL, name what a query reads.

Used by the alert-rule and dashboard tests; the end-to-end suite runs the same queries against a
real Prometheus. promtool comes from Debian's ``prometheus`` package (``make promtool``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from sidecar import semconv

ROOT = Path(__file__).resolve().parent.parent
ALERTS_DIR = ROOT / "collector-config" / "alerts"
RULES_FILE = ALERTS_DIR / "genai-sidecar.rules.yaml"
DASHBOARDS_DIR = ROOT / "collector-config" / "dashboards"

#: Every Prometheus series the derived metrics become (histograms without their suffixes).
PROM_SERIES = frozenset(
    value for name, value in vars(semconv).items() if name.startswith("PROM_")
)
_HISTOGRAMS = (semconv.PROM_TOKEN_USAGE, semconv.PROM_OPERATION_DURATION,
               semconv.PROM_OPERATION_COST, semconv.PROM_TIME_TO_FIRST_CHUNK,
               semconv.PROM_TRACE_COST, semconv.PROM_TRACE_CALLS)
_SERIES = re.compile(r"\b(gen_ai_[A-Za-z_]+|redaction_[a-z_]+|genai:[a-z_]+|genai_sidecar_[a-z_]+)")


def prom_label(attribute_key: str) -> str:
    """The Prometheus label an OTLP attribute key becomes (dots and dashes to underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", attribute_key)


def promtool() -> str:
    """The promtool executable; fails the test (never skips) when it is not installed."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: run `make promtool` (Debian package prometheus)")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool with ``args``; the result, whatever its exit code."""
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=300,
                          check=False)


def series_read(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (histogram suffixes folded onto the base)."""
    out = set()
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    for name in _SERIES.findall(expr):
        for base in _HISTOGRAMS:
            if name in (f"{base}_bucket", f"{base}_sum", f"{base}_count"):
                name = base
        out.add(name)
    return out


def check_exprs(exprs: dict[str, str], tmp_path: Path) -> None:
    """Assert that every expression parses, through ``promtool check rules`` on a throwaway file.

    Args:
        exprs: a unique record name (letters, digits, colons, underscores) -> PromQL.
    """
    rules = {"groups": [{"name": "check", "rules": [
        {"record": name, "expr": expr} for name, expr in exprs.items()]}]}
    path = tmp_path / "exprs.rules.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False), "utf-8")
    result = run("check", "rules", str(path))
    assert result.returncode == 0, f"promtool check rules failed:\n{result.stdout}{result.stderr}"


#: Grafana's built-in and our template variables, as a plain Prometheus query sees them.
GRAFANA_DEFAULTS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
                    "$service": ".*", "$provider": ".*", "$model": ".*"}


def to_promql(expr: str, values: dict[str, str] | None = None) -> str:
    """A dashboard query with its Grafana variables replaced (``values`` override defaults)."""
    subst = {**GRAFANA_DEFAULTS, **(values or {})}
    for var in sorted(subst, key=len, reverse=True):
        expr = expr.replace(var, subst[var])
    return expr


def dashboard_queries(values: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Every panel query of every dashboard: (``file / panel title / refId``, PromQL)."""
    import json

    out = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        doc = json.loads(path.read_text("utf-8"))
        for panel in doc["panels"]:
            for target in panel["targets"]:
                where = f"{path.name} / {panel['title']} / {target['refId']}"
                out.append((where, to_promql(target["expr"], values)))
    return out
